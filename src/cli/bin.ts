#!/usr/bin/env node
// The package's "bin" (`npx django-session clearsessions -d <file>`). npm links it from
// node_modules/.bin, so process.argv[1] is that symlink, not this file: run unconditionally.
import { run } from './cli.js';

run();
