#pragma once
// RAII owners for the OpenSSL objects the project touches.

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>

#include <memory>
#include <string>

namespace macp::jose {

template <auto Free>
struct OpenSslDeleter {
  template <class T>
  void operator()(T* p) const noexcept {
    Free(p);
  }
};

using EvpPkeyPtr = std::unique_ptr<EVP_PKEY, OpenSslDeleter<&EVP_PKEY_free>>;
using EvpPkeyCtxPtr = std::unique_ptr<EVP_PKEY_CTX, OpenSslDeleter<&EVP_PKEY_CTX_free>>;
using EvpMdCtxPtr = std::unique_ptr<EVP_MD_CTX, OpenSslDeleter<&EVP_MD_CTX_free>>;
using BignumPtr = std::unique_ptr<BIGNUM, OpenSslDeleter<&BN_clear_free>>;
using BnCtxPtr = std::unique_ptr<BN_CTX, OpenSslDeleter<&BN_CTX_free>>;  // wipes its temporaries when freed
using EcdsaSigPtr = std::unique_ptr<ECDSA_SIG, OpenSslDeleter<&ECDSA_SIG_free>>;
using ParamBldPtr = std::unique_ptr<OSSL_PARAM_BLD, OpenSslDeleter<&OSSL_PARAM_BLD_free>>;
using ParamPtr = std::unique_ptr<OSSL_PARAM, OpenSslDeleter<&OSSL_PARAM_free>>;

// Wipes secret text (a private JWK) before its memory is released.
void cleanse(std::string& secret) noexcept;

}  // namespace macp::jose
