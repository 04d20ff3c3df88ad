import { v1Handlers } from "@/server/services/inference/v1-routes";

export const dynamic = "force-dynamic";
export const runtime = "nodejs";

export const GET = (req: Request) => v1Handlers().models(req);
