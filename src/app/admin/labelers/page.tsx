import type { Metadata } from "next";
import { AdminNav } from "@/components/admin/admin-nav";
import { LabelerStats } from "@/components/admin/labeler-stats";
import { AppShell } from "@/components/app-shell";
import { requireAdmin } from "@/server/auth/current-user";

export const dynamic = "force-dynamic";
export const metadata: Metadata = { title: "Labelers" };

export default async function Page() {
  const user = await requireAdmin();
  return (
    <AppShell user={user}>
      <h1 className="text-2xl font-bold tracking-tight">Labelers</h1>
      <AdminNav current="/admin/labelers" />
      <p className="mt-3 text-sm text-slate-600">Speed and quality of each labeler, and how often labelers agree on overlapping prompts.</p>
      <LabelerStats />
    </AppShell>
  );
}
