// CSRF defence for /api/trpc, layered:
//  1. tRPC runs mutations only for POST (a GET to a mutation is 405), and queries have no
//     side effects, so only POSTs need checking.
//  2. A POST must carry Content-Type: application/json. A cross-site HTML form cannot send
//     that, and a cross-site fetch() with it triggers a CORS preflight that we never approve.
//  3. If the browser says where the request came from (Origin, or Sec-Fetch-Site), it must be
//     this site; otherwise 403. Non-browser clients (curl, tests) send neither and pass on 2.
//  4. The session cookie is SameSite=Lax, so other sites' POSTs do not carry it anyway.

export type CsrfVerdict = { ok: true } | { ok: false; status: 403 | 415; reason: string };

function requestHost(headers: Headers, url: string): string | null {
  const forwarded = headers.get("x-forwarded-host")?.split(",")[0]?.trim();
  if (forwarded) return forwarded.toLowerCase();
  const host = headers.get("host");
  if (host) return host.toLowerCase();
  try {
    return new URL(url).host.toLowerCase();
  } catch {
    return null;
  }
}

export function checkCsrf(request: { method: string; url: string; headers: Headers }): CsrfVerdict {
  if (request.method !== "POST") return { ok: true };
  const { headers } = request;

  const contentType = headers.get("content-type")?.split(";")[0]?.trim().toLowerCase();
  if (contentType !== "application/json") {
    return { ok: false, status: 415, reason: "POST requests must have Content-Type: application/json." };
  }

  const fetchSite = headers.get("sec-fetch-site")?.toLowerCase();
  if (fetchSite === "cross-site") {
    return { ok: false, status: 403, reason: "Cross-site requests are not allowed." };
  }

  const origin = headers.get("origin");
  if (origin !== null) {
    let originHost: string;
    try {
      // "null" (sandboxed iframes, file://) fails to parse and is refused.
      originHost = new URL(origin).host.toLowerCase();
    } catch {
      return { ok: false, status: 403, reason: "The request's Origin header is not valid." };
    }
    const host = requestHost(headers, request.url);
    if (!host || originHost !== host) {
      return { ok: false, status: 403, reason: "Cross-origin requests are not allowed." };
    }
  }
  return { ok: true };
}
