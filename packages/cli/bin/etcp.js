#!/usr/bin/env node
// Launcher for the `etcp` bin: registers tsx's loader in this process and runs the TypeScript
// entry point, so the command works without a build step.
import { register } from "tsx/esm/api"

register()
await import("../src/main.ts")
