import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { promisify } from "node:util";

const run = promisify(execFile);

/**
 * `npm run demo` is one of the README's two commands: it must run to its closing table. This runs the
 * script as the npm script does (hardhat run, the project's Node), and checks the story's outcome.
 */
describe("npm run demo (scripts/demo.ts)", function () {
  it("tells the whole story: readings over MQTT, a tripped breaker, a proven clone, a payout", async function () {
    this.timeout(180_000);
    const { stdout } = await run(
      process.execPath,
      ["node_modules/hardhat/dist/src/cli.js", "run", "scripts/demo.ts"],
      { maxBuffer: 16 * 1024 * 1024, env: { ...process.env, FORCE_COLOR: "0" } },
    );
    assert.match(stdout, /latestRoundData → round \d+: 21\.\d\d °C \(median of 7 fresh readings\)/);
    assert.match(stdout, /latestRoundData now reverts: DeviceFeedTripped/);
    assert.match(
      stdout,
      /incident 0x[0-9a-f]{8}…[0-9a-f]{4}: Equivocation; slashed 100\.00 USD; sensor-\d is Suspended/,
    );
    assert.match(stdout, /pays the integrator 150\.00 USD on policy #0/);
    assert.match(stdout, /watchtower\s+0\.00 USD\s+10\.00 USD\s+\+10\.00 USD/);
    assert.match(
      stdout,
      /operator \(wallet \+ stake\)\s+10000\.00 USD\s+9900\.00 USD\s+-100\.00 USD/,
    );
  });
});
