import type { Metadata } from "next";
import { AdminNav } from "@/components/admin/admin-nav";
import { QualityView } from "@/components/admin/quality-view";
import { AppShell } from "@/components/app-shell";
import { requireAdmin } from "@/server/auth/current-user";

export const dynamic = "force-dynamic";
export const metadata: Metadata = { title: "Labeler quality" };

export default async function Page() {
  const user = await requireAdmin();
  return (
    <AppShell user={user}>
      <h1 className="text-2xl font-bold tracking-tight">Labeler quality</h1>
      <AdminNav current="/admin/quality" />
      <p className="mt-3 text-sm text-slate-600">
        How far each labeler can be trusted, estimated from agreement on overlapping pairs and from gold pairs, and the label-flip rate ε to
        give the robust DPO loss.
      </p>
      <QualityView />
    </AppShell>
  );
}
