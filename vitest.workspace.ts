// The list of test projects; `vitest.config.ts` hands it to Vitest as `test.projects`
// (a bare workspace file is deprecated in Vitest 3.2).
export default ["packages/*/vitest.config.ts"]
