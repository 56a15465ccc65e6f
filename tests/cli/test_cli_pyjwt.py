"""The operator commands against PyJWT (Debian's python3-jwt), a JOSE library we did not write.

keygen's keys must load in PyJWT and sign tokens our JWKS and `verify` accept, and `verify` must
reach PyJWT's verdict on valid, expired, wrong-issuer, wrong-audience, tampered, other-key-same-kid,
HS256 and alg-none tokens, for RS256 and ES256. Key material is never printed, even on failure.
"""

import base64
import json
import os
import re
import subprocess
import tempfile
import time
import unittest
import urllib.request

import jwt

BIN = os.environ["MACP_AUTH_BIN"]
ISSUER = "macp-auth-service"
AUDIENCE = "macp-runtime"
LEEWAY = 60  # what `verify` states it allows on exp


def clean_env(extra=None):
    env = {k: v for k, v in os.environ.items() if k != "PORT" and not k.startswith("MACP_AUTH_")}
    env.update(extra or {})
    return env


def run(args, env=None, stdin=None):
    return subprocess.run([BIN, *args], env=clean_env(env), input=stdin, capture_output=True, text=True, timeout=30)


def keygen(*args):
    r = run(["keygen", *args])
    if r.returncode != 0:
        raise AssertionError(f"keygen failed: {r.stderr}")
    return r.stdout.strip()


def pyjwk(jwk_text):
    """PyJWT's reading of a JWK; its errors can quote the whole JWK, so only the type is reported."""
    try:
        return jwt.PyJWK(json.loads(jwk_text))
    except Exception as e:  # noqa: BLE001 - any failure to load is the finding
        raise AssertionError(f"PyJWT could not load the JWK: {type(e).__name__}") from None


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class Service:
    """The real binary on a free loopback port, read from its first log line."""

    def __init__(self, env):
        self.proc = subprocess.Popen([BIN, "serve", "--port", "0"], env=clean_env(env), stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        m = re.fullmatch(r"\[auth-service\] listening on port (\d+)\n", line)
        if not m:
            self.proc.kill()
            raise AssertionError(f"service did not start: {line!r} {self.proc.stderr.read()}")
        self.base = f"http://127.0.0.1:{m.group(1)}"
        self.jwks_url = self.base + "/.well-known/jwks.json"

    def mint(self, body=None):
        req = urllib.request.Request(self.base + "/tokens", data=json.dumps(body or {"sender": "agent://risk"}).encode(),
                                     headers={"content-type": "application/json"}, method="POST")
        with urllib.request.urlopen(req, timeout=5) as res:
            return json.load(res)["token"]

    def jwks(self):
        with urllib.request.urlopen(self.jwks_url, timeout=5) as res:
            return json.load(res)

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=15)
        self.proc.stdout.close()
        self.proc.stderr.close()


class KeygenInPyJwt(unittest.TestCase):
    def test_keys_load_and_sign_tokens_our_jwks_and_verify_accept(self):
        for alg in ("RS256", "ES256"):
            with self.subTest(alg=alg):
                text = keygen("--alg", alg)
                jwk = json.loads(text)
                private = pyjwk(text)
                self.assertTrue(hasattr(private.key, "private_numbers"), "PyJWT read a private key")
                now = int(time.time())
                token = jwt.encode({"iss": ISSUER, "aud": AUDIENCE, "sub": "agent://pyjwt", "iat": now, "exp": now + 300},
                                   private.key, algorithm=alg, headers={"kid": jwk["kid"]})

                with tempfile.TemporaryDirectory() as tmp:
                    key_file = os.path.join(tmp, "key.json")
                    with open(os.open(key_file, os.O_WRONLY | os.O_CREAT, 0o600), "w") as f:
                        f.write(text)
                    jwks = run(["jwks", "--key-file", key_file])
                    self.assertEqual(jwks.returncode, 0, jwks.stderr)
                    jwks_file = os.path.join(tmp, "jwks.json")
                    with open(jwks_file, "w") as f:
                        f.write(jwks.stdout)
                    r = run(["verify", token, "--jwks", jwks_file])
                    self.assertEqual(r.returncode, 0, r.stderr)
                    self.assertEqual(json.loads(r.stdout)["payload"]["sub"], "agent://pyjwt")

                service = Service({"MACP_AUTH_SIGNING_KEY_JSON": text})
                try:
                    self.assertEqual(service.jwks(), json.loads(jwks.stdout))
                    public = jwt.PyJWKSet.from_dict(service.jwks())[jwk["kid"]].key
                    claims = jwt.decode(token, public, algorithms=[alg], issuer=ISSUER, audience=AUDIENCE)
                    self.assertEqual(claims["sub"], "agent://pyjwt")
                    # The service signs with the pinned key: PyJWT verifies its tokens with the published JWKS.
                    minted = service.mint()
                    self.assertEqual(jwt.get_unverified_header(minted), {"alg": alg, "kid": jwk["kid"]})
                    jwt.decode(minted, public, algorithms=[alg], issuer=ISSUER, audience=AUDIENCE)
                    self.assertEqual(run(["verify", minted, "--jwks", service.jwks_url]).returncode, 0)
                finally:
                    service.stop()


class VerifyAgreesWithPyJwt(unittest.TestCase):
    """Each token goes to PyJWT (keyed by kid from the service's JWKS, as the runtime picks) and to verify."""

    # Our first word for each case, and PyJWT's exception for it (None: both must accept).
    CASES = {
        "valid": (None, None),
        "expired": ("JWTExpired", jwt.ExpiredSignatureError),
        "wrong issuer": ('JWTClaimValidationFailed: unexpected "iss"', jwt.InvalidIssuerError),
        "wrong audience": ('JWTClaimValidationFailed: unexpected "aud"', jwt.InvalidAudienceError),
        "tampered": ("JWSSignatureVerificationFailed", jwt.InvalidSignatureError),
        "other key, same kid": ("JWSSignatureVerificationFailed", jwt.InvalidSignatureError),
        "HS256": ("JOSEAlgNotAllowed", jwt.InvalidAlgorithmError),
        "alg none": ("JOSEAlgNotAllowed", jwt.InvalidAlgorithmError),
    }

    def tokens(self, service, alg, key, other_key):
        now = int(time.time())
        claims = {"macp_scopes": {}, "iat": now, "exp": now + 300, "iss": ISSUER, "aud": AUDIENCE, "sub": "agent://x"}
        header = {"kid": "k1"}

        def signed(private, **changes):
            return jwt.encode({**claims, **changes}, private, algorithm=alg, headers=header)

        minted = service.mint()
        h, p, s = minted.split(".")
        payload = json.loads(base64.urlsafe_b64decode(p + "=" * (-len(p) % 4)))
        payload["sub"] = "agent://admin"
        none_header = b64url(json.dumps({"alg": "none", "kid": "k1"}).encode())
        return {
            "valid": minted,
            "expired": signed(key, iat=now - 3900, exp=now - 3600),
            "wrong issuer": signed(key, iss="someone-else"),
            "wrong audience": signed(key, aud="another-runtime"),
            "tampered": f"{h}.{b64url(json.dumps(payload).encode())}.{s}",
            "other key, same kid": signed(other_key),
            "HS256": jwt.encode(claims, "a-shared-secret-the-runtime-never-has", algorithm="HS256", headers=header),
            "alg none": f"{none_header}.{b64url(json.dumps(claims).encode())}.",
        }

    def test_the_matrix(self):
        for alg in ("RS256", "ES256"):
            key_text = keygen("--alg", alg, "--kid", "k1")
            key = pyjwk(key_text).key  # the service's key, for the tokens PyJWT signs
            other_key = pyjwk(keygen("--alg", alg, "--kid", "k1")).key
            service = Service({"MACP_AUTH_SIGNING_KEY_JSON": key_text})
            try:
                jwks = service.jwks()
                with tempfile.NamedTemporaryFile("w", suffix=".json") as jwks_file:
                    json.dump(jwks, jwks_file)
                    jwks_file.flush()
                    for name, token in self.tokens(service, alg, key, other_key).items():
                        ours_expected, pyjwt_expected = self.CASES[name]
                        with self.subTest(alg=alg, token=name):
                            kid = jwt.get_unverified_header(token)["kid"]
                            public = jwt.PyJWKSet.from_dict(jwks)[kid].key
                            pyjwt_error = None
                            try:
                                jwt.decode(token, public, algorithms=["RS256", "ES256"], issuer=ISSUER,
                                           audience=AUDIENCE, leeway=LEEWAY, options={"require": ["exp", "iss", "aud"]})
                            except jwt.PyJWTError as e:
                                pyjwt_error = e
                            if pyjwt_expected is None:
                                self.assertIsNone(pyjwt_error, "PyJWT refused a valid token")
                            else:
                                self.assertIsInstance(pyjwt_error, pyjwt_expected)
                            for source in (jwks_file.name, service.jwks_url):
                                r = run(["verify", token, "--jwks", source])
                                if ours_expected is None:
                                    self.assertEqual(r.returncode, 0, r.stderr)
                                    self.assertEqual(json.loads(r.stdout)["payload"], jwt.decode(
                                        token, public, algorithms=[alg], issuer=ISSUER, audience=AUDIENCE))
                                else:
                                    self.assertEqual(r.returncode, 1, f"verify accepted the {name} token")
                                    self.assertEqual(r.stdout, "")
                                    self.assertTrue(r.stderr.startswith(ours_expected), r.stderr)
                                    self.assertEqual(r.stderr.count("\n"), 1, r.stderr)
            finally:
                service.stop()


if __name__ == "__main__":
    unittest.main()
