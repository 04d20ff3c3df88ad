import type { Metadata } from "next";
import { AdminNav } from "@/components/admin/admin-nav";
import { RoundsAdmin } from "@/components/admin/rounds-admin";
import { AppShell } from "@/components/app-shell";
import { requireAdmin } from "@/server/auth/current-user";

export const dynamic = "force-dynamic";
export const metadata: Metadata = { title: "Training rounds" };

export default async function Page() {
  const user = await requireAdmin();
  return (
    <AppShell user={user}>
      <h1 className="text-2xl font-bold tracking-tight">Training rounds</h1>
      <AdminNav current="/admin/rounds" />
      <p className="mt-3 text-sm text-slate-600">DPO rounds on the labelers' votes, and the policy versions they produce.</p>
      <RoundsAdmin />
    </AppShell>
  );
}
