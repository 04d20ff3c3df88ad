import type { Metadata } from "next";
import { AdminNav } from "@/components/admin/admin-nav";
import { ApiKeysAdmin } from "@/components/admin/api-keys-admin";
import { AppShell } from "@/components/app-shell";
import { requireAdmin } from "@/server/auth/current-user";

export const dynamic = "force-dynamic";
export const metadata: Metadata = { title: "API keys" };

export default async function Page() {
  const user = await requireAdmin();
  return (
    <AppShell user={user}>
      <h1 className="text-2xl font-bold tracking-tight">API keys</h1>
      <AdminNav current="/admin/api-keys" />
      <p className="mt-3 text-sm text-slate-600">
        Keys let other programs use the served policy through the OpenAI-compatible API at <code>/v1</code>, send preferences and download
        exports, with <code>Authorization: Bearer &lt;key&gt;</code>. A key is shown once, when it is created; revoking it takes effect at
        once.
      </p>
      <ApiKeysAdmin />
    </AppShell>
  );
}
