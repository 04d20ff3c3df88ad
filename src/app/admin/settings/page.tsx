import type { Metadata } from "next";
import { AdminNav } from "@/components/admin/admin-nav";
import { SettingsForm } from "@/components/admin/settings-form";
import { AppShell } from "@/components/app-shell";
import { requireAdmin } from "@/server/auth/current-user";

export const dynamic = "force-dynamic";
export const metadata: Metadata = { title: "Sampling settings" };

export default async function Page() {
  const user = await requireAdmin("/admin/settings");
  return (
    <AppShell user={user}>
      <h1 className="text-2xl font-bold tracking-tight">Sampling settings</h1>
      <AdminNav current="/admin/settings" />
      <p className="mt-3 text-sm text-slate-600">How battles are sampled and assigned. Changes apply to battles assigned from now on.</p>
      <SettingsForm />
    </AppShell>
  );
}
