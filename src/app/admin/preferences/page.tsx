import type { Metadata } from "next";
import { AdminNav } from "@/components/admin/admin-nav";
import { PreferenceDataAdmin } from "@/components/admin/preference-data-admin";
import { AppShell } from "@/components/app-shell";
import { requireAdmin } from "@/server/auth/current-user";

export const dynamic = "force-dynamic";
export const metadata: Metadata = { title: "Preference data" };

export default async function Page() {
  const user = await requireAdmin();
  return (
    <AppShell user={user}>
      <h1 className="text-2xl font-bold tracking-tight">Preference data</h1>
      <AdminNav current="/admin/preferences" />
      <p className="mt-3 text-sm text-slate-600">
        Preference datasets from other tools (TRL, Anthropic HH) as offline DPO pairs for the training rounds, kept apart from the
        arena&apos;s votes: they never count on the leaderboard or in labeler statistics. Larger files:{" "}
        <code>npm run cli -- import-preferences FILE --format trl|hh</code>.
      </p>
      <PreferenceDataAdmin />
    </AppShell>
  );
}
