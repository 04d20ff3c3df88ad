import { db } from "@/server/db/client";
import { createExportHandler } from "@/server/services/export/handler";

export const dynamic = "force-dynamic";
export const runtime = "nodejs";

export const GET = createExportHandler({ kind: "hf-preferences", db: () => db });
