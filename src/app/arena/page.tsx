// The labeler's arena. Everything live (battles, streams, votes) happens in the client component.
import type { Metadata } from "next";
import { AppShell } from "@/components/app-shell";
import { Arena } from "@/components/arena/arena";
import { requireUser } from "@/server/auth/current-user";

export const dynamic = "force-dynamic";
export const metadata: Metadata = { title: "Arena" };

export default async function ArenaPage() {
  const user = await requireUser("/arena");
  return (
    <AppShell user={user}>
      <h1 className="text-2xl font-bold tracking-tight">Arena</h1>
      <p className="mt-1 text-sm text-slate-600">
        Read the prompt, compare the two completions, and pick the better one.
        <span className="max-sm:hidden pointer-coarse:hidden"> The keyboard is fastest.</span>
      </p>
      <Arena userId={user.id} />
    </AppShell>
  );
}
