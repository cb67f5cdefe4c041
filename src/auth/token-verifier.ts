import { createPublicKey, type KeyObject } from "node:crypto";
import { errors, jwtVerify, type JWTPayload } from "jose";
import type { AuthConfig } from "../config/config.js";
import { isValidIdentifier } from "../socket/schemas.js";

/** Who a verified token says the client is. */
export interface TokenIdentity {
  userId: string;
  username?: string;
  /** Rooms the token may join; undefined = any room. */
  rooms?: string[];
  /** When the token expires (ms since the epoch): the connection is closed then. */
  expiresAt?: number;
}

/**
 * The JWT algorithm a public key verifies: the key decides, so a token cannot pick a weaker
 * one. Throws for a key type the service cannot verify.
 */
export function algorithmOf(key: KeyObject): string {
  const type = key.asymmetricKeyType;
  if (type === "rsa") return "RS256";
  if (type === "ed25519") return "EdDSA";
  if (type === "ec") {
    const curve = key.asymmetricKeyDetails?.namedCurve;
    if (curve === "prime256v1") return "ES256";
    if (curve === "secp384r1") return "ES384";
    throw new Error(`EC keys on ${curve ?? "an unknown curve"} are not supported (use P-256 or P-384)`);
  }
  throw new Error(`${type ?? "unknown"} keys are not supported (use RSA, EC P-256/P-384 or Ed25519)`);
}

/** A refused token; the message is sent to the client as its `connect_error`. */
export class AuthError extends Error {}

/**
 * Verifies handshake tokens: HS256 with a shared secret, or RS256, ES256/ES384 or EdDSA
 * (Ed25519) with a public key (the algorithm follows the key's type, see {@link algorithmOf}).
 */
export class TokenVerifier {
  private readonly key: Uint8Array | KeyObject;
  private readonly algorithms: string[];

  /** Set when the HS256 secret is shorter than the 32 bytes RFC 7518 asks for. */
  readonly weakSecret: boolean;

  constructor(private readonly config: AuthConfig) {
    this.weakSecret = !config.publicKey && Buffer.byteLength(config.secret ?? "") < 32;
    if (config.publicKey) {
      const key = createPublicKey(config.publicKey);
      this.key = key;
      this.algorithms = [algorithmOf(key)];
    } else {
      this.key = new TextEncoder().encode(config.secret);
      this.algorithms = ["HS256"];
    }
  }

  async verify(token: unknown): Promise<TokenIdentity> {
    if (typeof token !== "string" || token === "") {
      throw new AuthError("unauthorized: a token is required (auth: { token })");
    }
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, this.key, {
        algorithms: this.algorithms,
        ...(this.config.issuer ? { issuer: this.config.issuer } : {}),
        ...(this.config.audience ? { audience: this.config.audience } : {}),
      }));
    } catch (err) {
      if (err instanceof errors.JWTExpired) throw new AuthError("unauthorized: token expired");
      if (err instanceof errors.JWTClaimValidationFailed) throw new AuthError(`unauthorized: ${err.message}`);
      throw new AuthError("unauthorized: invalid token");
    }
    if (this.config.requireExp && typeof payload.exp !== "number") {
      throw new AuthError('unauthorized: token has no expiry ("exp" claim)');
    }
    const userId = payload[this.config.userIdClaim];
    if (typeof userId !== "string" && typeof userId !== "number") {
      throw new AuthError(`unauthorized: token has no "${this.config.userIdClaim}" claim`);
    }
    // Held to the same rules as a join's: a token is trusted for who it names, not for
    // characters that would break storage or deceive a reader.
    if (!isValidIdentifier(String(userId))) {
      throw new AuthError(`unauthorized: the token's "${this.config.userIdClaim}" claim is not a valid user id`);
    }
    const username = payload[this.config.usernameClaim];
    const identity: TokenIdentity = {
      userId: String(userId),
      ...(typeof username === "string" && isValidIdentifier(username) ? { username } : {}),
      ...(typeof payload.exp === "number" ? { expiresAt: payload.exp * 1000 } : {}),
    };
    if (this.config.roomsClaim) {
      const rooms = payload[this.config.roomsClaim];
      identity.rooms = Array.isArray(rooms) ? rooms.filter((r): r is string => typeof r === "string") : [];
    }
    return identity;
  }
}

/** The token of a handshake: `auth: { token }`, or an `Authorization: Bearer` header. */
export function handshakeToken(auth: Record<string, unknown>, authorization: string | undefined): unknown {
  if (auth.token !== undefined) return auth.token;
  const match = /^Bearer\s+(.+)$/i.exec(authorization ?? "");
  return match?.[1];
}
