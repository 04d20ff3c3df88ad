// Who is viewing a page (server components). Pages use requireUser/requireAdmin; the
// decisive checks are still the tRPC procedures, pages only decide what to render.
import { cookies } from "next/headers";
import { forbidden, redirect } from "next/navigation";
import { cache } from "react";
import { db } from "../db/client.ts";
import { getSessionUser, SESSION_COOKIE, type SessionUser } from "./session.ts";

/** Cached per request, so a layout and a page share one session lookup. */
export const getCurrentUser = cache(async (): Promise<SessionUser | null> => {
  const token = (await cookies()).get(SESSION_COOKIE)?.value;
  if (!token) return null;
  return (await getSessionUser({ db, token }))?.user ?? null;
});

/**
 * Anonymous visitors go to the sign-in page, which says why (`next`: the page they wanted, shown
 * and returned to after signing in; `expired`: they had a session cookie that no longer works).
 */
export async function requireUser(next?: string): Promise<SessionUser> {
  const user = await getCurrentUser();
  if (!user) {
    const hadSession = Boolean((await cookies()).get(SESSION_COOKIE)?.value);
    const query = new URLSearchParams({ reason: hadSession ? "expired" : "signin", ...(next ? { next } : {}) });
    redirect(`/login?${query}`);
  }
  return user;
}

/** Labelers get the 403 page (src/app/forbidden.tsx), anonymous users the sign-in page. */
export async function requireAdmin(next?: string): Promise<SessionUser> {
  const user = await requireUser(next);
  if (user.role !== "ADMIN") forbidden();
  return user;
}
