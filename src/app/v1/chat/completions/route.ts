import { v1Handlers } from "@/server/services/inference/v1-routes";

export const dynamic = "force-dynamic";
export const runtime = "nodejs";

export const POST = (req: Request) => v1Handlers().chatCompletions(req);
