"use client";
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useRouter } from "next/navigation";
import { useTRPC } from "@/trpc/react";
import { buttonSecondary } from "./ui";

export function SignOutButton() {
  const trpc = useTRPC();
  const router = useRouter();
  const queryClient = useQueryClient();
  const signOut = useMutation(
    trpc.auth.signOut.mutationOptions({
      // Even if the server call failed the user wants out; the login page is the right place.
      onSettled: () => {
        queryClient.clear();
        router.replace("/login");
        router.refresh();
      },
    }),
  );
  return (
    <button type="button" className={buttonSecondary} onClick={() => signOut.mutate()} disabled={signOut.isPending}>
      {signOut.isPending ? "Signing out…" : "Sign out"}
    </button>
  );
}
