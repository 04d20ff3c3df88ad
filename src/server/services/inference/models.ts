// Which policy versions the API serves: the SERVING one (also under the alias "policy", which
// follows hot swaps) and every version that served before (RETIRED). Candidates and rejected
// versions never served labelers and are not offered.
import type { PrismaClient } from "../../../generated/prisma/client.ts";
import { OpenAiError } from "./openai-errors.ts";

export const SERVING_ALIAS = "policy";

export interface ApiModel {
  id: string;
  object: "model";
  created: number;
  owned_by: string;
}

export async function listApiModels(db: PrismaClient): Promise<ApiModel[]> {
  const versions = await db.policyVersion.findMany({
    where: { status: { in: ["SERVING", "RETIRED"] } },
    select: { name: true, status: true, createdAt: true },
    orderBy: { id: "asc" },
  });
  const serving = versions.find((v) => v.status === "SERVING");
  const model = (id: string, created: Date): ApiModel => ({
    id,
    object: "model",
    created: Math.floor(created.getTime() / 1000),
    owned_by: "dpo-arena",
  });
  return [...(serving ? [model(SERVING_ALIAS, serving.createdAt)] : []), ...versions.map((v) => model(v.name, v.createdAt))];
}

/** The version id to sample (undefined: whatever is serving when sampling starts). */
export async function resolveApiModel(db: PrismaClient, name: string): Promise<number | undefined> {
  if (name === SERVING_ALIAS) return undefined;
  const v = await db.policyVersion.findUnique({ where: { name }, select: { id: true, status: true } });
  if (!v || (v.status !== "SERVING" && v.status !== "RETIRED")) {
    throw new OpenAiError(
      404,
      `The model '${name}' does not exist. GET /v1/models lists the models this server serves ("${SERVING_ALIAS}" is the current policy).`,
      "invalid_request_error",
      "model",
      "model_not_found",
    );
  }
  return v.id;
}
