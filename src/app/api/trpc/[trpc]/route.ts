import { createTrpcRequestHandler } from "@/server/routers/handler";

export const dynamic = "force-dynamic";

const handler = createTrpcRequestHandler();

export { handler as GET, handler as POST };
