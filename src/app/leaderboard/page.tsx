// The leaderboard renders from the cached snapshot (memory, or the Setting row another replica
// wrote); new votes trigger a background recomputation, never one in this request.
import type { Metadata } from "next";
import { redirect } from "next/navigation";
import { AppShell } from "@/components/app-shell";
import { LeaderboardView } from "@/components/leaderboard/leaderboard-view";
import { PublicShell } from "@/components/leaderboard/public-shell";
import { getCurrentUser } from "@/server/auth/current-user";
import { db } from "@/server/db/client";
import { getLeaderboard } from "@/server/services/leaderboard/cache";
import { versionOverview } from "@/server/services/leaderboard/versions";
import { getLeaderboardVisibility } from "@/server/services/leaderboard/visibility";

export const dynamic = "force-dynamic";
export const metadata: Metadata = { title: "Leaderboard" };

export default async function LeaderboardPage() {
  const [user, visibility] = await Promise.all([getCurrentUser(), getLeaderboardVisibility({ db })]);
  if (visibility === "labelers" && !user) redirect("/login?reason=signin&next=%2Fleaderboard");
  const [result, overview] = await Promise.all([getLeaderboard({ db }), versionOverview({ db })]);
  const view = <LeaderboardView result={result} overview={overview} isAdmin={user?.role === "ADMIN"} visibility={visibility} />;
  return user ? <AppShell user={user}>{view}</AppShell> : <PublicShell>{view}</PublicShell>;
}
