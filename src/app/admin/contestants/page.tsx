import type { Metadata } from "next";
import { AdminNav } from "@/components/admin/admin-nav";
import { ContestantsAdmin } from "@/components/admin/contestants-admin";
import { AppShell } from "@/components/app-shell";
import { requireAdmin } from "@/server/auth/current-user";

export const dynamic = "force-dynamic";
export const metadata: Metadata = { title: "Contestants" };

export default async function Page() {
  const user = await requireAdmin();
  return (
    <AppShell user={user}>
      <h1 className="text-2xl font-bold tracking-tight">External contestants</h1>
      <AdminNav current="/admin/contestants" />
      <p className="mt-3 text-sm text-slate-600">
        Any server that speaks the OpenAI API (llama.cpp, vLLM, Ollama, another dpo-arena) can meet the serving model in the arena. Labelers
        cannot tell which side it is: both answers stream on the same schedule and end by the same length rule. Its votes rate it on the
        leaderboard under its name and are never used for training. The share of battles it gets is the &quot;Contestant share&quot; on the
        Sampling page. An endpoint that fails is skipped for a minute and shown as unreachable below; its battles fall back to the serving
        model.
      </p>
      <ContestantsAdmin />
    </AppShell>
  );
}
