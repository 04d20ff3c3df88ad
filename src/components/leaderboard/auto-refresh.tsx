"use client";
// The page renders from the cached snapshot; while a recomputation runs (stale) it asks the
// server again soon, otherwise now and then so new votes show up without a reload.
import { useRouter } from "next/navigation";
import { useEffect } from "react";

export function LeaderboardAutoRefresh({ stale, computedAt }: { stale: boolean; computedAt: string }) {
  const router = useRouter();
  useEffect(() => {
    const timer = setTimeout(() => router.refresh(), stale ? 2_000 : 30_000);
    return () => clearTimeout(timer);
  }, [router, stale, computedAt]);
  return null;
}
