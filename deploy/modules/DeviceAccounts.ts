import { buildModule } from "@nomicfoundation/hardhat-ignition/modules";
import { ENTRY_POINT_V08 } from "../../src/client/user-operation.js";
import DeviceRegistryModule from "./DeviceRegistry.js";

/**
 * Machine accounts next to the registry: the DeviceSignerVerifier (ERC-7913, asks the registry), the
 * DeviceAccount implementation and the DeviceAccountFactory that clones it (`account create` finds the
 * factory in this deployment), and the DevicePaymaster over that factory, owned by the deployer, who stakes
 * it in the EntryPoint: it reads the registry and keeps budgets in validation and returns a context for
 * postOp, which ERC-7562 allows a staked paymaster only (STO-031/033, EREP-050), so bundlers refuse its
 * operations without a stake. Parameters (module id "DeviceAccounts"):
 * - `entryPoint`: the ERC-4337 EntryPoint (default v0.8's canonical address; it must exist on the chain);
 * - `defaultMaxAge`: the verifier's max attestation age for callers that do not say theirs (default a day);
 * - `paymasterStake` (wei, default 1 ether) and `paymasterUnstakeDelay` (seconds, default a day): the
 *   stake; each bundler sets its own minimums (alto: --min-entity-stake, --min-entity-unstake-delay).
 * - `channelMaxAge`: how recently a buyer device must have attested for PaymentChannel to count its
 *   vouchers (default a day).
 * DeviceAccount's runtime code is 24,387 bytes (the IR build at runs 1), under EIP-170's 24,576. The
 * DeviceAccountLens (trusted weight of an account's devices) and the PaymentChannel the accounts open
 * channels on (`channel open` and the other channel tasks find it here) are deployed with them.
 */
export default buildModule("DeviceAccounts", (m) => {
  const { deviceRegistry } = m.useModule(DeviceRegistryModule);
  const entryPoint = m.getParameter("entryPoint", ENTRY_POINT_V08);
  const deviceSignerVerifier = m.contract("DeviceSignerVerifier", [
    deviceRegistry,
    m.getParameter("defaultMaxAge", 86_400n),
  ]);
  const deviceAccount = m.contract("DeviceAccount", [
    entryPoint,
    deviceRegistry,
    deviceSignerVerifier,
  ]);
  const deviceAccountFactory = m.contract("DeviceAccountFactory", [deviceAccount]);
  const deviceAccountLens = m.contract("DeviceAccountLens");
  const devicePaymaster = m.contract("DevicePaymaster", [deviceAccountFactory, m.getAccount(0)]);
  m.call(devicePaymaster, "addStake", [m.getParameter("paymasterUnstakeDelay", 86_400n)], {
    value: m.getParameter("paymasterStake", 10n ** 18n),
  });
  const paymentChannel = m.contract("PaymentChannel", [
    deviceRegistry,
    m.getParameter("channelMaxAge", 86_400n),
  ]);
  return {
    deviceRegistry,
    deviceSignerVerifier,
    deviceAccount,
    deviceAccountFactory,
    deviceAccountLens,
    devicePaymaster,
    paymentChannel,
  };
});
