"use client";
// Shown when a page fails to render. Next.js gives only a digest in production, which is what
// the server logged: quote it, show nothing internal.

export default function ErrorPage({ error, reset }: { error: Error & { digest?: string }; reset: () => void }) {
  return (
    <main className="flex min-h-screen flex-col items-center justify-center px-4 text-center">
      <h1 className="text-2xl font-bold tracking-tight">Something went wrong</h1>
      <p className="mt-2 text-slate-600">
        The page could not be loaded.{error.digest ? ` If it keeps happening, report error id ${error.digest} to an admin.` : ""}
      </p>
      <button type="button" onClick={reset} className="mt-6 text-sm font-semibold text-indigo-700 hover:underline">
        Try again
      </button>
    </main>
  );
}
