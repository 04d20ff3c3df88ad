import type { Metadata } from "next";
import { redirect } from "next/navigation";
import { LoginForm } from "@/components/login-form";
import { card } from "@/components/ui";
import { getCurrentUser } from "@/server/auth/current-user";

export const dynamic = "force-dynamic";
export const metadata: Metadata = { title: "Sign in" };

export default async function LoginPage() {
  const user = await getCurrentUser();
  if (user) redirect(user.role === "ADMIN" ? "/admin" : "/arena");
  return (
    <main className="flex min-h-screen items-center justify-center px-4 py-12">
      <div className="w-full max-w-sm">
        <h1 className="mb-1 text-center text-2xl font-bold tracking-tight text-indigo-700">DPO Arena</h1>
        <p className="mb-6 text-center text-sm text-slate-600">Sign in to compare completions.</p>
        <div className={card}>
          <LoginForm />
        </div>
        <p className="mt-4 text-center text-xs text-slate-500">Accounts are created by an admin.</p>
      </div>
    </main>
  );
}
