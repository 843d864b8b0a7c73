import { ZeroAddress, ZeroHash, type Interface, type Provider } from "ethers";
import { DeviceTrustError, type Hex } from "../protocol/index.js";
import {
  DeviceAccountFactory__factory,
  DeviceFeedFactory__factory,
  IDeviceFeed__factory,
  IDeviceRegistry__factory,
  IDeviceStaking__factory,
  IFirmwareSignatures__factory,
  IFraudProofs__factory,
  IInsurancePool__factory,
  IPaymentChannel__factory,
  IPqKeyRecovery__factory,
  IPsaAttestation__factory,
  ITpmAttestation__factory,
} from "../../types/ethers-contracts/index.js";

/** An address given for a DeviceTrust contract holds no code, or code that does not answer as one. */
export class NotDeviceTrustContractError extends DeviceTrustError {
  constructor(message: string) {
    super("NOT_A_DEVICETRUST_CONTRACT", message);
    this.name = "NotDeviceTrustContractError";
  }
}

interface Probe {
  readonly iface: Interface;
  readonly fn: string;
  readonly args: readonly unknown[];
}

/**
 * One cheap view per contract that only it has, answered without reverting. Not ERC-165: none of these
 * contracts reports its own interface id (those with AccessControl answer only IAccessControl's, which
 * any AccessControl contract shares).
 */
const PROBES = {
  DeviceRegistry: {
    iface: IDeviceRegistry__factory.createInterface(),
    fn: "keyOwner",
    args: [ZeroHash],
  },
  DeviceFeed: { iface: IDeviceFeed__factory.createInterface(), fn: "feedId", args: [] },
  DeviceFeedFactory: {
    iface: DeviceFeedFactory__factory.createInterface(),
    fn: "isFeed",
    args: [ZeroAddress],
  },
  DeviceStaking: {
    iface: IDeviceStaking__factory.createInterface(),
    fn: "slashableOf",
    args: [ZeroHash],
  },
  FraudProofs: { iface: IFraudProofs__factory.createInterface(), fn: "evidenceWindow", args: [] },
  InsurancePool: {
    iface: IInsurancePool__factory.createInterface(),
    fn: "withdrawalRequest",
    args: [ZeroAddress],
  },
  PaymentChannel: {
    iface: IPaymentChannel__factory.createInterface(),
    fn: "nonceOf",
    args: [ZeroAddress],
  },
  TpmAttestation: {
    iface: ITpmAttestation__factory.createInterface(),
    fn: "tpmCounter",
    args: [0, 0],
  },
  PqKeyRecovery: {
    iface: IPqKeyRecovery__factory.createInterface(),
    fn: "pqCommitmentOf",
    args: [ZeroHash],
  },
  FirmwareSignatures: {
    iface: IFirmwareSignatures__factory.createInterface(),
    fn: "pqSignatureOf",
    args: [0],
  },
  PsaAttestation: {
    iface: IPsaAttestation__factory.createInterface(),
    fn: "psaProfile",
    args: [],
  },
  DeviceAccountFactory: {
    iface: DeviceAccountFactory__factory.createInterface(),
    fn: "IMPLEMENTATION",
    args: [],
  },
} as const satisfies Record<string, Probe>;

export type DeviceTrustContract = keyof typeof PROBES;

/**
 * Checks that `address` is a DeviceTrust `contract` on the provider's chain: it has code and answers the
 * contract's probe call. Otherwise throws one sentence: `0x… is not a DeviceTrust DeviceFeed on chain 31337
 * (no code): check --feed and --network`.
 */
export async function requireDeviceTrustContract(
  provider: Provider,
  address: Hex,
  contract: DeviceTrustContract,
  option: string,
): Promise<void> {
  const { chainId } = await provider.getNetwork();
  const why = await whyNot(provider, address, PROBES[contract]);
  if (why === undefined) return;
  throw new NotDeviceTrustContractError(
    `${address} is not a DeviceTrust ${contract} on chain ${chainId.toString()} (${why}): check ${option} and --network`,
  );
}

async function whyNot(provider: Provider, address: Hex, probe: Probe): Promise<string | undefined> {
  if ((await provider.getCode(address)) === "0x") return "no code";
  const fragment = probe.iface.getFunction(probe.fn, [...probe.args]);
  if (fragment === null) throw new DeviceTrustError("PROBE", `no ${probe.fn} in the ABI`);
  try {
    const data = await provider.call({
      to: address,
      data: probe.iface.encodeFunctionData(fragment, [...probe.args]),
    });
    probe.iface.decodeFunctionResult(fragment, data);
    return undefined;
  } catch {
    // The node just answered getCode, so a failing call is the code's answer: a revert (ethers'
    // CALL_EXCEPTION over HTTP, Hardhat's SolidityError in process, often with no revert data for an
    // unknown selector) or data that does not decode.
    return `does not answer ${fragment.format("sighash")}`;
  }
}
