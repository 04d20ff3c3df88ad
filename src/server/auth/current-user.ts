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

export async function requireUser(): Promise<SessionUser> {
  const user = await getCurrentUser();
  if (!user) redirect("/login");
  return user;
}

/** Labelers get the 403 page (src/app/forbidden.tsx), anonymous users the sign-in page. */
export async function requireAdmin(): Promise<SessionUser> {
  const user = await requireUser();
  if (user.role !== "ADMIN") forbidden();
  return user;
}
