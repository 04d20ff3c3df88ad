// The PostgreSQL NOTIFY channel that tells every web process a new version is serving. It lives
// here, below the services: promotion (a service) notifies, the registry (policy) listens.
export const SERVING_CHANNEL = "policy_serving";
