import { Wallet, parseEther, type Provider, type Signer } from "ethers";
import type { KeyStore } from "../device/key-store.js";
import { DeviceSigner } from "../device/device-signer.js";
import {
  NATIVE,
  accountAddress,
  accountFactoryAt,
  accountSalt,
  buildAccountSetup,
  addMaker,
  fetchChallenge,
  makerEndorse,
  publishFirmware,
  registerDevice,
  registryAt,
  registryDomain,
  submitEvidence,
  type AccountFile,
  type DeviceRegistry,
} from "./index.js";
import { deviceIdOf, measure, type Hex } from "../protocol/index.js";
import {
  DeviceAccountFactory__factory,
  DeviceAccount__factory,
  DevicePaymaster__factory,
  DeviceRegistry__factory,
  DeviceSignerVerifier__factory,
  MockERC20__factory,
  PaymentChannel__factory,
  type DeviceAccountFactory,
  type DevicePaymaster,
  type MockERC20,
} from "../../types/ethers-contracts/index.js";
import { deployEntryPointV08, type JsonRpcSend } from "./entry-point-local.js";
import { stakePaymaster } from "./paymaster.js";

/**
 * The machine-account system on any chain reached through ethers signers (the in-process network, or the
 * hardhat node the bundler tests start): a DeviceRegistry (governed by the deployer), a maker and a
 * published firmware, EntryPoint v0.8 at its canonical address, the DeviceSignerVerifier, the DeviceAccount
 * implementation and its factory, a DevicePaymaster staked by the deployer, and an ERC-20. Devices are
 * registered and attested from any key store (software or PKCS#11). For the demo, the bench and the tests.
 */

export const ACCOUNT_MODEL = 11;
export const IMAGES = [
  new TextEncoder().encode("bootloader 3"),
  new TextEncoder().encode("charger 1.0"),
];
export const MAX_AGE = 86_400n;

export interface AccountSystem {
  readonly provider: Provider;
  readonly deployer: Signer;
  readonly maker: Signer;
  /** The devices' operator in the registry (it registers and attests them). */
  readonly deviceOperator: Signer;
  readonly registry: DeviceRegistry;
  readonly registryAddress: Hex;
  readonly entryPoint: Hex;
  readonly verifier: Hex;
  readonly implementation: Hex;
  readonly factory: DeviceAccountFactory;
  readonly factoryAddress: Hex;
  readonly token: MockERC20;
  readonly tokenAddress: Hex;
}

/** A DevicePaymaster over the system's factory, staked by its owner; no operator funded or registered yet. */
export interface PaymasterDeployment {
  readonly paymaster: DevicePaymaster;
  readonly paymasterAddress: Hex;
}

/** The local paymaster's stake: any stake of at least a second's delay is staked to alto 0.0.20. */
export const PAYMASTER_STAKE = { amount: parseEther("1"), unstakeDelaySec: 86_400n } as const;

/** Deploys a DevicePaymaster over `factory`, owned by `owner`, who stakes it in the EntryPoint. */
export async function deployAccountPaymaster(
  owner: Signer,
  factory: string,
  stake: { readonly amount: bigint; readonly unstakeDelaySec: bigint } = PAYMASTER_STAKE,
): Promise<PaymasterDeployment> {
  const paymaster = await new DevicePaymaster__factory(owner).deploy(
    factory,
    await owner.getAddress(),
  );
  await paymaster.waitForDeployment();
  const paymasterAddress = await addressOf(paymaster);
  await stakePaymaster(paymasterAddress, owner, stake.amount, stake.unstakeDelaySec);
  return { paymaster, paymasterAddress };
}

async function addressOf(c: { getAddress(): Promise<string> }): Promise<Hex> {
  return (await c.getAddress()) as Hex;
}

/** The account contracts on a registry: EntryPoint v0.8, the verifier, the implementation, its factory. */
export interface AccountContracts {
  readonly entryPoint: Hex;
  readonly verifier: Hex;
  readonly implementation: Hex;
  readonly factory: DeviceAccountFactory;
  readonly factoryAddress: Hex;
}

/**
 * Deploys EntryPoint v0.8 at its canonical address (if absent), then the DeviceSignerVerifier, the
 * DeviceAccount implementation and its factory over an existing registry (the demo's, deployed by Ignition).
 */
export async function deployAccountContracts(options: {
  readonly deployer: Signer;
  readonly registryAddress: string;
  readonly send: JsonRpcSend;
}): Promise<AccountContracts> {
  const { deployer, registryAddress } = options;
  const entryPoint = await deployEntryPointV08(deployer, options.send);
  const verifier = await new DeviceSignerVerifier__factory(deployer).deploy(
    registryAddress,
    MAX_AGE,
  );
  await verifier.waitForDeployment();
  const verifierAddress = await addressOf(verifier);
  const implementation = await new DeviceAccount__factory(deployer).deploy(
    entryPoint,
    registryAddress,
    verifierAddress,
  );
  await implementation.waitForDeployment();
  const implementationAddress = await addressOf(implementation);
  const factory = await new DeviceAccountFactory__factory(deployer).deploy(implementationAddress);
  await factory.waitForDeployment();
  const factoryAddress = await addressOf(factory);
  return {
    entryPoint,
    verifier: verifierAddress,
    implementation: implementationAddress,
    factory: accountFactoryAt(factoryAddress, deployer),
    factoryAddress,
  };
}

/** A PaymentChannel over the registry (a buyer device counts as trusted if attested within MAX_AGE). */
export async function deployPaymentChannel(
  deployer: Signer,
  registryAddress: string,
): Promise<Hex> {
  const channels = await new PaymentChannel__factory(deployer).deploy(registryAddress, MAX_AGE);
  await channels.waitForDeployment();
  return addressOf(channels);
}

/** The maker publishes firmware 1.0.0 of ACCOUNT_MODEL (IMAGES), which registerAndAttest's devices run. */
export async function publishAccountFirmware(
  registryAddress: string,
  maker: Signer,
): Promise<void> {
  await publishFirmware({
    registry: registryAt(registryAddress, maker),
    model: ACCOUNT_MODEL,
    version: "1.0.0",
    images: IMAGES,
  });
}

export async function deployAccountSystem(options: {
  readonly deployer: Signer;
  readonly maker: Signer;
  readonly deviceOperator: Signer;
  readonly send: JsonRpcSend;
}): Promise<AccountSystem & PaymasterDeployment> {
  const { deployer, maker, deviceOperator } = options;
  const provider = deployer.provider;
  if (provider === null) throw new Error("the deployer has no provider");
  const registryContract = await new DeviceRegistry__factory(deployer).deploy(
    await deployer.getAddress(),
  );
  await registryContract.waitForDeployment();
  const registryAddress = await addressOf(registryContract);
  await addMaker(registryAt(registryAddress, deployer), await maker.getAddress(), "Acme Chargers");
  await publishAccountFirmware(registryAddress, maker);
  const contracts = await deployAccountContracts({ deployer, registryAddress, send: options.send });
  const token = await new MockERC20__factory(deployer).deploy("Energy Credit", "NRG");
  await token.waitForDeployment();
  const paymaster = await deployAccountPaymaster(deployer, contracts.factoryAddress);
  return {
    provider,
    deployer,
    maker,
    deviceOperator,
    registry: registryAt(registryAddress, deviceOperator),
    registryAddress,
    ...contracts,
    token,
    tokenAddress: await addressOf(token),
    ...paymaster,
  };
}

/** Registers the device whose key `store` holds (endorsed by the maker) and attests it on the firmware. */
export async function registerAndAttest(system: AccountSystem, store: KeyStore): Promise<Hex> {
  const deviceId = deviceIdOf(store.deviceKey);
  const latest = await system.provider.getBlock("latest");
  await registerDevice({
    registry: system.registry,
    device: store,
    operator: await system.deviceOperator.getAddress(),
    deadline: BigInt(latest?.timestamp ?? 0) + 3_600n,
    model: ACCOUNT_MODEL,
    endorsement: await makerEndorse(
      registryAt(system.registryAddress, system.maker),
      system.maker,
      deviceId,
      ACCOUNT_MODEL,
    ),
  });
  await attestAgain(system, store, deviceId);
  return deviceId;
}

/** Signs fresh evidence with the device's key and submits it. */
export async function attestAgain(
  system: AccountSystem,
  store: KeyStore,
  deviceId: Hex,
  bootCount = 0n,
): Promise<void> {
  const signer = new DeviceSigner(store, await registryDomain(system.registry), deviceId);
  const challenge = await fetchChallenge(system.registry, deviceId, "block");
  const evidence = await signer.signAttestation({
    measurement: (await measure(IMAGES)).measurement,
    challenge: challenge.challenge,
    timestamp: challenge.timestamp,
    bootCount,
  });
  await submitEvidence(system.registry, evidence, challenge.challengeBlock);
}

/** Gives `account` native coin (for its prefund) and tokens. */
export async function fund(
  system: AccountSystem,
  account: string,
  tokens = parseEther("10000"),
  native = parseEther("1"),
): Promise<void> {
  await (await system.deployer.sendTransaction({ to: account, value: native })).wait();
  await (await system.token.mint(account, tokens)).wait();
}

/**
 * The account of a vehicle that buys over payment channels: `deviceId` signs alone (low threshold 1) inside
 * a policy that lets it approve and call `channels` in the system's token (up to `tokenCap` a day) and pay
 * it native coin (up to `nativeCap`); a random operator holds the high threshold. Returns its
 * counterfactual address and the account file its first UserOperation deploys from.
 */
export async function channelBuyerAccount(
  system: AccountSystem,
  options: {
    readonly channels: Hex;
    readonly deviceId: Hex;
    readonly salt: string;
    readonly tokenCap: bigint;
    readonly nativeCap: bigint;
  },
): Promise<{ readonly account: Hex; readonly accountFile: AccountFile }> {
  const { channels } = options;
  const setup = buildAccountSetup({
    verifier: system.verifier,
    devices: [options.deviceId],
    operator: Wallet.createRandom().address,
    highThreshold: 2n,
    tokens: [
      { token: system.tokenAddress, periodCap: options.tokenCap },
      { token: NATIVE, periodCap: options.nativeCap },
    ],
    counterparties: [
      { token: system.tokenAddress, counterparty: channels },
      { token: NATIVE, counterparty: channels },
    ],
  });
  const salt = accountSalt(options.salt);
  const account = await accountAddress(system.factory, setup, salt);
  const { chainId } = await system.provider.getNetwork();
  return {
    account,
    accountFile: { account, chainId, factory: system.factoryAddress, salt, setup },
  };
}
