#!/usr/bin/env node
// The `weft` command; see ../README.md for the commands and exit codes.
import { run } from "./cli.ts";

const code = await run(process.argv.slice(2));
// The gRPC session may hold the event loop open; stdout and stderr are synchronous for files and
// pipes on Linux, so nothing written is lost.
process.exit(code);
