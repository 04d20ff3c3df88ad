import type { Metadata } from "next";
import { AdminNav } from "@/components/admin/admin-nav";
import { PromptAdmin } from "@/components/admin/prompt-admin";
import { AppShell } from "@/components/app-shell";
import { requireAdmin } from "@/server/auth/current-user";

export const dynamic = "force-dynamic";
export const metadata: Metadata = { title: "Prompt pool" };

export default async function Page() {
  const user = await requireAdmin("/admin/prompts");
  return (
    <AppShell user={user}>
      <h1 className="text-2xl font-bold tracking-tight">Prompt pool</h1>
      <AdminNav current="/admin/prompts" />
      <p className="mt-3 text-sm text-slate-600">Import prompts, search the pool, and take prompts out of rotation.</p>
      <PromptAdmin />
    </AppShell>
  );
}
