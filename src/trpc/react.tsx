"use client";
// The browser's tRPC client: react-query hooks via useTRPC(), one QueryClient per tab.
import { MutationCache, QueryCache, QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { createTRPCClient, httpBatchLink, TRPCClientError } from "@trpc/client";
import { createTRPCContext } from "@trpc/tanstack-react-query";
import { type ReactNode, useState } from "react";
import superjson from "superjson";
import type { AppRouter } from "@/server/routers/_app";

export const { TRPCProvider, useTRPC, useTRPCClient } = createTRPCContext<AppRouter>();

/**
 * A 401 from any call but sign-in means the session ended (expired, signed out elsewhere, or
 * the account was disabled): go to the sign-in page instead of showing a broken screen.
 */
function onSessionLost(error: unknown) {
  if (!(error instanceof TRPCClientError)) return;
  const data = error.data as { httpStatus?: number; path?: string } | undefined;
  if (data?.httpStatus === 401 && data.path !== "auth.signIn" && window.location.pathname !== "/login") {
    window.location.assign("/login");
  }
}

function makeQueryClient(): QueryClient {
  return new QueryClient({
    queryCache: new QueryCache({ onError: onSessionLost }),
    mutationCache: new MutationCache({ onError: onSessionLost }),
    defaultOptions: {
      queries: {
        staleTime: 30_000,
        // A 4xx will not fix itself on retry; network blips and 5xx might.
        retry: (failureCount, error) => {
          const status = error instanceof TRPCClientError ? (error.data as { httpStatus?: number } | undefined)?.httpStatus : undefined;
          return failureCount < 2 && (status === undefined || status >= 500);
        },
      },
    },
  });
}

export function TRPCReactProvider({ children }: { children: ReactNode }) {
  const [queryClient] = useState(makeQueryClient);
  const [trpcClient] = useState(() =>
    createTRPCClient<AppRouter>({
      links: [httpBatchLink({ url: "/api/trpc", transformer: superjson })],
    }),
  );
  return (
    <QueryClientProvider client={queryClient}>
      <TRPCProvider trpcClient={trpcClient} queryClient={queryClient}>
        {children}
      </TRPCProvider>
    </QueryClientProvider>
  );
}

/** The message to show for a failed call, and field-level messages when validation failed. */
export function describeError(error: unknown): { message: string; fields: Record<string, string> } {
  if (error instanceof TRPCClientError) {
    const data = error.data as { zodError?: { fieldErrors?: Record<string, string[]> } | null } | undefined;
    const fields: Record<string, string> = {};
    for (const [field, messages] of Object.entries(data?.zodError?.fieldErrors ?? {})) {
      if (messages[0]) fields[field] = messages[0];
    }
    return { message: Object.keys(fields).length > 0 ? "Please fix the highlighted fields." : error.message, fields };
  }
  return { message: "Could not reach the server. Check your connection and try again.", fields: {} };
}
