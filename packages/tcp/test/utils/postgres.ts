/**
 * The cluster tests' PostgreSQL: the `cluster` example's throwaway server (Debian's binaries,
 * installed by the test command's ensure-peers.sh; a Unix socket only; stopped by PID and removed
 * when the scope closes). One copy of the start and stop protocol, in the example.
 */
export { throwawayPostgres as postgres } from "../../../examples/src/throwawayPostgres.js"
