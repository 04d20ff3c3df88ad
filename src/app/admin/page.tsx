import type { Metadata } from "next";
import { AdminNav } from "@/components/admin/admin-nav";
import { AppShell } from "@/components/app-shell";
import { UserAdmin } from "@/components/user-admin";
import { requireAdmin } from "@/server/auth/current-user";

export const dynamic = "force-dynamic";
export const metadata: Metadata = { title: "Admin" };

export default async function AdminPage() {
  const user = await requireAdmin();
  return (
    <AppShell user={user}>
      <h1 className="text-2xl font-bold tracking-tight">Admin</h1>
      <AdminNav current="/admin" />
      <p className="mt-1 text-sm text-slate-600">Manage labeler accounts.</p>
      <UserAdmin currentUserId={user.id} />
    </AppShell>
  );
}
