// End-to-end test of the mock's dashboard page in headless Chromium.
//
// Run from the workspace root, after `cargo build -p mock-server` and
// `npm ci --prefix tests/dashboard`:
//
//     node tests/dashboard/e2e.mjs [--mock-server PATH]
//
// It starts the mock-server binary (default: target/debug/mock-server, or
// under CARGO_TARGET_DIR) on 127.0.0.1 with a free port, drives the page with
// playwright-core and Debian's Chromium (/usr/bin/chromium, or CHROMIUM), and
// checks that the page sends no request to another origin. On a failure it
// prints the step, the reason, a screenshot path and the mock's last log lines.

import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import readline from "node:readline";
import { fileURLToPath } from "node:url";

import { chromium } from "playwright-core";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const TARGET_DIR = process.env.CARGO_TARGET_DIR
  ? path.resolve(process.env.CARGO_TARGET_DIR)
  : path.join(ROOT, "target");
const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";

// Without the background-networking flags Chromium contacts Google hosts.
const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

// Milliseconds that one expectation waits for the page to reach its state.
const WAIT_MS = 10_000;
// Milliseconds the mock has to print its address.
const START_MS = 30_000;
// Milliseconds the whole run may take before it fails.
const RUN_MS = 180_000;
// A long interval, so that no scheduled run happens during the test and the
// countdown is visible.
const SCHEDULER_INTERVAL = "3600";
const CONTROL_TOKEN = "e2e-control-token";

/** A failed expectation, with what the page showed instead. */
class ExpectationError extends Error {}

function parseArgs(argv) {
  const options = { mockServer: path.join(TARGET_DIR, "debug/mock-server") };
  for (let i = 0; i < argv.length; i += 1) {
    if (argv[i] === "--mock-server" && i + 1 < argv.length) {
      options.mockServer = path.resolve(argv[i + 1]);
      i += 1;
    } else {
      throw new Error(`unknown argument ${argv[i]}; usage: e2e.mjs [--mock-server PATH]`);
    }
  }
  return options;
}

// ---- The mock server ----

/** A mock-server child process with its log lines. */
class MockServer {
  /** Starts the mock on `listen`, such as 127.0.0.1:0 for a free port. */
  static async start(binary, listen, extraArgs) {
    if (!fs.existsSync(binary)) {
      throw new Error(`${binary} does not exist; build it with cargo build -p mock-server`);
    }
    const args = ["--listen", listen, "--scheduler-interval", SCHEDULER_INTERVAL, ...extraArgs];
    const child = spawn(binary, args, { stdio: ["ignore", "pipe", "pipe"] });
    const server = new MockServer(child, `${binary} ${args.join(" ")}`);
    server.url = await server.readAddress();
    return server;
  }

  constructor(child, commandLine) {
    this.child = child;
    this.commandLine = commandLine;
    this.log = [];
    this.url = null;
    readline.createInterface({ input: child.stderr }).on("line", (line) => this.record(line));
  }

  record(line) {
    this.log.push(line);
    if (this.log.length > 200) {
      this.log.shift();
    }
  }

  /** Reads stdout until the server prints its http:// address. */
  readAddress() {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`the mock printed no address within ${START_MS} ms`)),
        START_MS,
      );
      readline.createInterface({ input: this.child.stdout }).on("line", (line) => {
        this.record(line);
        const url = line.split(/\s+/).find((word) => word.startsWith("http://"));
        if (url && this.url === null) {
          clearTimeout(timer);
          resolve(url);
        }
      });
      this.child.on("error", (error) => {
        clearTimeout(timer);
        reject(new Error(`cannot start the mock: ${error.message}`));
      });
      this.child.on("exit", (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`the mock exited (${signal ?? code}) before printing its address`));
      });
    });
  }

  /** Kills the mock with SIGKILL and waits until it has exited. */
  async stop() {
    if (this.child.exitCode !== null || this.child.signalCode !== null) {
      return;
    }
    const exited = new Promise((resolve) => this.child.once("exit", resolve));
    this.child.kill("SIGKILL");
    await exited;
  }
}

// ---- Expectations ----

/** Polls `read` until `accept` holds for its value, or fails after WAIT_MS. */
async function waitFor(description, read, accept) {
  const deadline = Date.now() + WAIT_MS;
  let last;
  for (;;) {
    try {
      last = await read();
    } catch (error) {
      last = `(not readable: ${error.message.split("\n")[0]})`;
    }
    if (accept(last)) {
      return last;
    }
    if (Date.now() > deadline) {
      throw new ExpectationError(
        `${description}: not reached within ${WAIT_MS} ms; last value: ${JSON.stringify(last)}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

function expectAttribute(locator, name, expected, subject) {
  return waitFor(
    `${subject}: ${name} should be ${JSON.stringify(expected)}`,
    () => locator.getAttribute(name, { timeout: 500 }),
    (value) => value === expected,
  );
}

function expectText(locator, pattern, subject) {
  return waitFor(
    `${subject}: text should match ${pattern}`,
    () => locator.textContent({ timeout: 500 }),
    (text) => typeof text === "string" && pattern.test(text),
  );
}

function expectCount(locator, expected, subject) {
  return waitFor(
    `${subject}: count should be ${expected}`,
    () => locator.count(),
    (count) => count === expected,
  );
}

// ---- Page helpers ----

function cell(page, service, node) {
  return page.locator(`[data-testid="cell"][data-service="${service}"][data-node="${node}"]`);
}

function events(page, attributes) {
  const selector = Object.entries(attributes)
    .map(([name, value]) => `[data-${name}="${value}"]`)
    .join("");
  return page.locator(`[data-testid="event"]${selector}`);
}

async function expectStatus(page, kind, pattern) {
  const status = page.getByTestId("status");
  await expectText(status, pattern, "status line");
  await expectAttribute(status, "data-kind", kind, "status line");
}

// The buttons are found by role and accessible name, as a screen reader
// user finds them.
async function terminate(page, service) {
  await page.getByRole("button", { name: `Terminate ${service} on all nodes`, exact: true }).click();
}

async function runScheduler(page) {
  await page.getByRole("button", { name: "Run scheduler now", exact: true }).click();
}

/** Loads the dashboard and waits for its first snapshot. */
async function openDashboard(page, url, mode) {
  const response = await page.goto(url);
  if (response === null || !response.ok()) {
    throw new ExpectationError(`GET ${url} returned ${response?.status()}`);
  }
  await expectAttribute(page.getByTestId("connection"), "data-mode", mode, "updates");
  await expectAttribute(cell(page, "cron", "node-1"), "data-pid", "1310", "cron on node-1");
}

// ---- Scenarios ----

/** Returns the steps on the shared state and a session, over the live stream. */
function liveSteps(context) {
  const { page } = context;
  return [
    ["dashboard shows grid and schedule", async () => {
      await openDashboard(page, `${context.url}/__mock/dashboard`, "live");
      await expectAttribute(cell(page, "cron", "node-2"), "data-pid", "2310", "cron on node-2");
      await expectAttribute(cell(page, "cron", "node-3"), "data-process", "none", "cron on node-3");
      await expectAttribute(cell(page, "mail_queue", "node-2"), "data-process", "hung", "mail_queue");
      await expectAttribute(cell(page, "cron", "node-1"), "data-terminate", "false", "cron on node-1");
      await expectText(page.getByTestId("next-run"), /^in (59:[0-5]\d|1:00:00),/, "next run");
      await expectText(page.getByTestId("clock"), /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC$/, "clock");
      const nextRun = page.getByTestId("next-run");
      const remaining = Number(await nextRun.getAttribute("data-remaining-seconds"));
      await waitFor(
        `countdown: should drop below ${remaining} seconds`,
        async () => Number(await nextRun.getAttribute("data-remaining-seconds")),
        (seconds) => seconds < remaining,
      );
      await expectCount(events(page, {}), 0, "events");
      const status = page.getByTestId("status");
      await expectAttribute(status, "role", "status", "status line");
      await expectAttribute(status, "aria-live", "polite", "status line");
    }],
    ["terminate flags cron on both nodes", async () => {
      await terminate(page, "cron");
      await expectStatus(page, "ok", /^Terminate cron: 2 processes flagged$/);
      for (const node of ["node-1", "node-2"]) {
        await expectAttribute(cell(page, "cron", node), "data-terminate", "true", `cron on ${node}`);
      }
      await expectAttribute(cell(page, "web_server", "node-1"), "data-terminate", "false", "web_server");
    }],
    ["terminate errors show the message", async () => {
      const apiKey = page.getByTestId("api-key-input");
      await apiKey.fill("wrong-key");
      await terminate(page, "cron");
      await expectStatus(page, "error", /^Terminate cron failed: HTTP 401: .*utoken-auth-failed/);
      await apiKey.fill("mock-api-key");
      await terminate(page, "tasks_scheduler");
      await expectStatus(
        page,
        "error",
        /^Terminate tasks_scheduler failed: HTTP 422: .*system_services-scheduler-self-terminate/,
      );
    }],
    ["scheduler run removes cron", async () => {
      await runScheduler(page);
      await expectStatus(page, "ok", /^Scheduler run: 2 signals sent \(/);
      for (const node of ["node-1", "node-2"]) {
        await expectAttribute(cell(page, "cron", node), "data-process", "none", `cron on ${node}`);
      }
      const signals = events(page, { event: "signal", service: "cron", outcome: "terminated" });
      await expectCount(signals, 2, "cron's signal events");
      await expectCount(events(page, { event: "scheduler_run" }), 1, "scheduler run events");
      await expectText(page.getByTestId("events-summary"), /^Showing 3 events\.$/, "event summary");
    }],
    ["hung process ignores SIGTERM", async () => {
      const target = cell(page, "web_server", "node-3");
      await page.getByRole("button", { name: "Hang web_server on node-3", exact: true }).click();
      await expectStatus(page, "ok", /^web_server on node-3 \(pid 3422\) now hangs$/);
      await expectAttribute(target, "data-process", "hung", "web_server on node-3");
      await terminate(page, "web_server");
      await expectStatus(page, "ok", /^Terminate web_server: 3 processes flagged$/);
      await runScheduler(page);
      await expectStatus(page, "ok", /^Scheduler run: 3 signals sent \(/);
      await expectAttribute(cell(page, "web_server", "node-1"), "data-process", "none", "web_server on node-1");
      await expectAttribute(target, "data-terminate", "true", "web_server on node-3");
      const ignored = events(page, { event: "signal", service: "web_server", outcome: "ignored" });
      await expectCount(ignored, 1, "ignored signal events");
    }],
    ["kill removes hung process", async () => {
      const target = cell(page, "web_server", "node-3");
      await page.getByRole("button", { name: "Kill web_server on node-3", exact: true }).click();
      await expectStatus(page, "ok", /^web_server on node-3 \(pid 3422\) killed$/);
      await expectAttribute(target, "data-process", "none", "web_server on node-3");
      await expectCount(events(page, { event: "kill", pid: "3422" }), 1, "kill events");
      const newest = page.getByTestId("event").first();
      await expectAttribute(newest, "data-event", "kill", "newest event");
    }],
    ["kill of missing process shows 404", async () => {
      // A cell without a process hides its kill button, so the test calls the
      // button's handler, as a click on a process that another client killed.
      const target = cell(page, "backup", "node-1");
      await expectAttribute(target, "data-process", "none", "backup on node-1");
      await page.evaluate(() => killProcess("backup", "node-1"));
      await expectStatus(page, "error", /^Kill backup on node-1 failed: HTTP 404: .*backup@node-1/);
    }],
    ["reset restores default state", async () => {
      await page.getByRole("button", { name: "Reset state", exact: true }).click();
      await expectStatus(page, "ok", /^State reset: 7 active processes$/);
      await expectAttribute(cell(page, "cron", "node-1"), "data-terminate", "false", "cron on node-1");
      await expectAttribute(cell(page, "web_server", "node-3"), "data-process", "running", "web_server on node-3");
      await expectCount(events(page, {}), 0, "events after the reset");
      await expectText(page.getByTestId("events-summary"), /^No events yet\.$/, "event summary");
    }],
    ["session keeps its own state", async () => {
      await page.getByTestId("session-input").fill("e2e-session");
      await page.getByTestId("session-apply").click();
      await expectText(page.getByTestId("session-name"), /^e2e-session$/, "session name");
      await expectAttribute(page.getByTestId("connection"), "data-mode", "live", "updates");
      await terminate(page, "cron");
      await expectStatus(page, "ok", /^Terminate cron: 2 processes flagged$/);
      await expectAttribute(cell(page, "cron", "node-1"), "data-terminate", "true", "session's cron");

      // Enter in the field submits the form, as the button does.
      await page.getByTestId("session-input").fill("");
      await page.getByTestId("session-input").press("Enter");
      await expectText(page.getByTestId("session-name"), /^shared state$/, "session name");
      await expectAttribute(cell(page, "cron", "node-1"), "data-terminate", "false", "shared cron");
    }],
    ["page reconnects after mock restart", async () => {
      await terminate(page, "cron");
      await expectAttribute(cell(page, "cron", "node-1"), "data-terminate", "true", "cron on node-1");
      const restarted = context.restartMock();
      await expectAttribute(page.getByTestId("connection"), "data-mode", "polling", "updates");
      await restarted;
      // The new mock starts from the default state, so the flag is gone.
      await expectAttribute(page.getByTestId("connection"), "data-mode", "live", "updates");
      await expectAttribute(cell(page, "cron", "node-1"), "data-terminate", "false", "cron on node-1");
    }],
    ["invalid session name shows 400", async () => {
      await page.getByTestId("session-input").fill("not a name");
      await page.getByTestId("session-apply").click();
      await expectStatus(page, "error", /HTTP 400: .*X-Mock-Session/);
      await expectAttribute(page.getByTestId("connection"), "data-mode", "polling", "updates");
    }],
  ];
}

/** Returns the steps on a mock with a control token, where the page polls. */
function tokenSteps(context) {
  const { page } = context;
  return [
    ["token page polls the snapshot", async () => {
      await openDashboard(page, `${context.url}/__mock/dashboard#token=${CONTROL_TOKEN}`, "polling");
      await terminate(page, "cron");
      await expectStatus(page, "ok", /^Terminate cron: 2 processes flagged$/);
      await expectAttribute(cell(page, "cron", "node-2"), "data-terminate", "true", "cron on node-2");
      await runScheduler(page);
      await expectStatus(page, "ok", /^Scheduler run: 2 signals sent \(/);
      await expectAttribute(cell(page, "cron", "node-2"), "data-process", "none", "cron on node-2");
    }],
    ["missing token shows 401", async () => {
      const response = await page.goto(`${context.url}/__mock/dashboard`);
      if (response === null || !response.ok()) {
        throw new ExpectationError(`GET the dashboard without a token returned ${response?.status()}`);
      }
      await expectStatus(page, "error", /HTTP 401: .*mock-control-auth-failed/);
    }],
  ];
}

// ---- Runner ----

const results = { passed: 0, failed: 0 };
const cleanups = [];

async function runScenario(scenario, options, browser) {
  const { name, mockArgs, makeSteps } = scenario;
  let server = await MockServer.start(options.mockServer, "127.0.0.1:0", mockArgs);
  cleanups.push(() => server.stop());
  console.log(`# ${name}: ${server.commandLine} -> ${server.url}`);

  const origin = new URL(server.url).origin;
  // Kills the mock and starts a new one on the same port.
  const restartMock = async () => {
    await server.stop();
    server = await MockServer.start(options.mockServer, new URL(origin).host, mockArgs);
  };
  const page = await browser.newPage();
  const foreign = [];
  const pageErrors = [];
  page.on("request", (request) => {
    if (new URL(request.url()).origin !== origin) {
      foreign.push(request.url());
    }
  });
  page.on("websocket", (socket) => foreign.push(socket.url()));
  page.on("pageerror", (error) => pageErrors.push(error.message));

  const steps = makeSteps({ page, url: server.url, restartMock });
  steps.push(["page stays on its origin", async () => {
    if (foreign.length > 0) {
      throw new ExpectationError(`requests to other origins: ${foreign.join(", ")}`);
    }
    if (pageErrors.length > 0) {
      throw new ExpectationError(`uncaught errors in the page: ${pageErrors.join("; ")}`);
    }
  }]);

  for (const [title, body] of steps) {
    try {
      await body();
      results.passed += 1;
      console.log(`ok - ${name}: ${title}`);
    } catch (error) {
      results.failed += 1;
      await reportFailure(`${name}: ${title}`, error, page, server);
      return false;
    }
  }
  await page.close();
  await server.stop();
  return true;
}

async function reportFailure(title, error, page, server) {
  const directory = path.join(TARGET_DIR, "dashboard-e2e");
  fs.mkdirSync(directory, { recursive: true });
  const screenshot = path.join(directory, `${title.replace(/[^A-Za-z0-9]+/g, "-")}.png`);
  let saved = "";
  try {
    await page.screenshot({ path: screenshot, fullPage: true });
    saved = screenshot;
  } catch (screenshotError) {
    saved = `(not saved: ${screenshotError.message})`;
  }
  // A timeout's message contains Playwright's call log, which names the awaited element.
  const expected = error instanceof ExpectationError || error.name === "TimeoutError";
  // Playwright colours the call log even when the output is not a terminal.
  const reason = (expected ? error.message : error.stack).replace(/\x1b\[[0-9;]*m/g, "");
  console.log(`not ok - ${title}`);
  console.log(`  ${reason}`);
  console.log(`  page: ${page.url()}`);
  console.log(`  screenshot: ${saved}`);
  console.log(`  mock: ${server.commandLine}`);
  console.log("  last lines of the mock's log:");
  for (const line of server.log.slice(-20)) {
    console.log(`    ${line}`);
  }
}

async function main() {
  const options = parseArgs(process.argv.slice(2));
  if (!fs.existsSync(CHROMIUM)) {
    throw new Error(`${CHROMIUM} does not exist; install Debian's chromium package (apt-get install chromium) or set CHROMIUM`);
  }
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), "dashboard-e2e-"));
  cleanups.push(() => fs.rmSync(profile, { recursive: true, force: true }));
  // launchPersistentContext takes the profile directory; launch() would
  // reject a --user-data-dir argument.
  const browser = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_ARGS,
  });
  cleanups.unshift(() => browser.close());
  browser.setDefaultTimeout(WAIT_MS);

  const scenarios = [
    { name: "live", mockArgs: [], makeSteps: liveSteps },
    { name: "token", mockArgs: ["--control-token", CONTROL_TOKEN], makeSteps: tokenSteps },
  ];
  for (const scenario of scenarios) {
    if (!(await runScenario(scenario, options, browser))) {
      break;
    }
  }
}

async function cleanUp() {
  for (const cleanup of cleanups.splice(0)) {
    try {
      await cleanup();
    } catch (error) {
      console.error(`cleanup failed: ${error.message}`);
    }
  }
}

const watchdog = setTimeout(async () => {
  console.log(`not ok - the run did not finish within ${RUN_MS} ms`);
  results.failed += 1;
  await cleanUp();
  console.log(`dashboard-e2e: ${results.passed} passed, ${results.failed} failed`);
  process.exit(1);
}, RUN_MS);

try {
  await main();
} catch (error) {
  results.failed += 1;
  console.log(`not ok - ${error.message}`);
}
await cleanUp();
clearTimeout(watchdog);
console.log(`dashboard-e2e: ${results.passed} passed, ${results.failed} failed`);
process.exit(results.failed === 0 ? 0 : 1);
