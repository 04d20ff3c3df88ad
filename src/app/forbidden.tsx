import Link from "next/link";

export default function Forbidden() {
  return (
    <main className="flex min-h-screen flex-col items-center justify-center px-4 text-center">
      <p className="text-sm font-semibold text-indigo-700">403</p>
      <h1 className="mt-2 text-2xl font-bold tracking-tight">Admins only</h1>
      <p className="mt-2 text-slate-600">Your account does not have access to this page.</p>
      <Link href="/arena" className="mt-6 text-sm font-semibold text-indigo-700 hover:underline">
        Back to the arena
      </Link>
    </main>
  );
}
