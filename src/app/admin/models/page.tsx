import type { Metadata } from "next";
import { AdminNav } from "@/components/admin/admin-nav";
import { ModelsAdmin } from "@/components/admin/models-admin";
import { AppShell } from "@/components/app-shell";
import { requireAdmin } from "@/server/auth/current-user";

export const dynamic = "force-dynamic";
export const metadata: Metadata = { title: "Models" };

export default async function Page() {
  const user = await requireAdmin();
  return (
    <AppShell user={user}>
      <h1 className="text-2xl font-bold tracking-tight">Models</h1>
      <AdminNav current="/admin/models" />
      <p className="mt-3 text-sm text-slate-600">
        Every policy version: the house model, models you imported, and what DPO rounds trained from them. Import a Hugging Face model
        directory that is on this server; it becomes a new base version that rounds train and score against.
      </p>
      <ModelsAdmin />
    </AppShell>
  );
}
