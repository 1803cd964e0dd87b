#include "common/tls/x509.h"

#include <arpa/inet.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <fstream>
#include <memory>
#include <sstream>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace berth::tls {
namespace {

struct Free {
  void operator()(X509* p) const { X509_free(p); }
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
  void operator()(BIO* p) const { BIO_free(p); }
  void operator()(X509_STORE* p) const { X509_STORE_free(p); }
  void operator()(X509_STORE_CTX* p) const { X509_STORE_CTX_free(p); }
};
using X509Ptr = std::unique_ptr<X509, Free>;
using KeyPtr = std::unique_ptr<EVP_PKEY, Free>;
using BioPtr = std::unique_ptr<BIO, Free>;

std::string OpensslError() {
  unsigned long e = ERR_get_error();
  if (e == 0) return "unknown OpenSSL error";
  char buf[256];
  ERR_error_string_n(e, buf, sizeof(buf));
  ERR_clear_error();
  return buf;
}

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::NotFoundError(
        absl::StrCat("cannot read ", path, ": ", std::strerror(errno)));
  }
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

absl::Status WriteFile(const std::string& path, const std::string& data,
                       mode_t mode) {
  // Write then rename, so a daemon watching the file never sees half of it.
  std::string tmp = path + ".tmp";
  FILE* f = std::fopen(tmp.c_str(), "wb");
  if (f == nullptr) {
    return absl::PermissionDeniedError(
        absl::StrCat("cannot write ", tmp, ": ", std::strerror(errno)));
  }
  ::chmod(tmp.c_str(), mode);
  bool ok = std::fwrite(data.data(), 1, data.size(), f) == data.size();
  ok = (std::fclose(f) == 0) && ok;
  if (!ok || std::rename(tmp.c_str(), path.c_str()) != 0) {
    return absl::InternalError(
        absl::StrCat("cannot write ", path, ": ", std::strerror(errno)));
  }
  return absl::OkStatus();
}

absl::Status MakeDir(const std::string& dir) {
  if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) {
    return absl::PermissionDeniedError(
        absl::StrCat("cannot create ", dir, ": ", std::strerror(errno)));
  }
  return absl::OkStatus();
}

absl::StatusOr<X509Ptr> LoadCert(const std::string& path) {
  auto pem = ReadFile(path);
  if (!pem.ok()) return pem.status();
  BioPtr bio(BIO_new_mem_buf(pem->data(), static_cast<int>(pem->size())));
  X509Ptr cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  if (!cert) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, " holds no PEM certificate (", OpensslError(), ")"));
  }
  return cert;
}

absl::StatusOr<KeyPtr> LoadKey(const std::string& path) {
  auto pem = ReadFile(path);
  if (!pem.ok()) return pem.status();
  BioPtr bio(BIO_new_mem_buf(pem->data(), static_cast<int>(pem->size())));
  KeyPtr key(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
  if (!key) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, " holds no PEM private key (", OpensslError(), ")"));
  }
  return key;
}

std::string CertPem(X509* cert) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  PEM_write_bio_X509(bio.get(), cert);
  char* data = nullptr;
  long n = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, n);
}

std::string KeyPem(EVP_PKEY* key) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr,
                           nullptr);
  char* data = nullptr;
  long n = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, n);
}

absl::StatusOr<KeyPtr> NewKey() {
  KeyPtr key(EVP_EC_gen("P-256"));
  if (!key) return absl::InternalError("EC key generation: " + OpensslError());
  return key;
}

absl::Time AsnTime(const ASN1_TIME* t) {
  struct tm tm {};
  if (ASN1_TIME_to_tm(t, &tm) != 1) return absl::InfinitePast();
  return absl::FromUnixSeconds(timegm(&tm));
}

std::string Entry(X509_NAME* name, int nid) {
  int i = X509_NAME_get_index_by_NID(name, nid, -1);
  if (i < 0) return "";
  ASN1_STRING* s = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, i));
  return std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                     ASN1_STRING_length(s));
}

absl::Status AddExt(X509* cert, X509* issuer, int nid, const std::string& v) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, v.c_str());
  if (ext == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("bad certificate extension '", v, "': ", OpensslError()));
  }
  X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
  return absl::OkStatus();
}

// A certificate for `key` with a random serial and the given validity;
// signed later by the caller.
X509Ptr NewCert(EVP_PKEY* key, const std::string& cn, const std::string& ou,
                absl::Time not_before, absl::Duration validity) {
  X509Ptr cert(X509_new());
  X509_set_version(cert.get(), 2);
  unsigned char serial[16];
  RAND_bytes(serial, sizeof(serial));
  serial[0] &= 0x7f;  // positive
  BIGNUM* bn = BN_bin2bn(serial, sizeof(serial), nullptr);
  BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert.get()));
  BN_free(bn);
  ASN1_TIME_set(X509_getm_notBefore(cert.get()),
                absl::ToUnixSeconds(not_before));
  ASN1_TIME_set(X509_getm_notAfter(cert.get()),
                absl::ToUnixSeconds(not_before + validity));
  X509_set_pubkey(cert.get(), key);
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8,
                             reinterpret_cast<const unsigned char*>("berth"),
                             -1, -1, 0);
  X509_NAME_add_entry_by_txt(name, "OU", MBSTRING_UTF8,
                             reinterpret_cast<const unsigned char*>(ou.c_str()),
                             -1, -1, 0);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                             reinterpret_cast<const unsigned char*>(cn.c_str()),
                             -1, -1, 0);
  return cert;
}

bool IsIp(const std::string& host) {
  unsigned char buf[16];
  return inet_pton(AF_INET, host.c_str(), buf) == 1 ||
         inet_pton(AF_INET6, host.c_str(), buf) == 1;
}

}  // namespace

absl::StatusOr<CertKind> ParseCertKind(const std::string& text) {
  if (text == "server") return CertKind::kServer;
  if (text == "agent") return CertKind::kAgent;
  if (text == "scheduler") return CertKind::kScheduler;
  if (text == "user") return CertKind::kUser;
  return absl::InvalidArgumentError(absl::StrCat(
      "--kind '", text, "': expected server, agent, scheduler or user"));
}

const char* CertKindName(CertKind kind) {
  switch (kind) {
    case CertKind::kServer:
      return "server";
    case CertKind::kAgent:
      return "agent";
    case CertKind::kScheduler:
      return "scheduler";
    case CertKind::kUser:
      return "user";
  }
  return "?";
}

absl::Status WriteCa(const std::string& dir, const std::string& name,
                     absl::Duration validity) {
  if (auto s = MakeDir(dir); !s.ok()) return s;
  auto key = NewKey();
  if (!key.ok()) return key.status();
  X509Ptr cert =
      NewCert(key->get(), name, "ca", absl::Now() - absl::Minutes(5), validity);
  X509_set_issuer_name(cert.get(), X509_get_subject_name(cert.get()));
  const std::vector<std::pair<int, std::string>> exts = {
      {NID_basic_constraints, "critical,CA:TRUE"},
      {NID_key_usage, "critical,keyCertSign,cRLSign"},
      {NID_subject_key_identifier, "hash"}};
  for (const auto& [nid, v] : exts) {
    if (auto s = AddExt(cert.get(), cert.get(), nid, v); !s.ok()) return s;
  }
  if (X509_sign(cert.get(), key->get(), EVP_sha256()) == 0) {
    return absl::InternalError("signing the CA: " + OpensslError());
  }
  if (auto s = WriteFile(dir + "/ca-key.pem", KeyPem(key->get()), 0600);
      !s.ok()) {
    return s;
  }
  return WriteFile(dir + "/ca.pem", CertPem(cert.get()), 0644);
}

absl::Status Issue(const std::string& ca_dir, const IssueRequest& request,
                   const std::string& out_dir) {
  if (request.name.empty()) {
    return absl::InvalidArgumentError("--name: the node id or user name");
  }
  if (request.validity <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("--days must be > 0");
  }
  auto ca = LoadCert(ca_dir + "/ca.pem");
  if (!ca.ok()) return ca.status();
  auto ca_key = LoadKey(ca_dir + "/ca-key.pem");
  if (!ca_key.ok()) return ca_key.status();
  auto key = NewKey();
  if (!key.ok()) return key.status();
  X509Ptr cert = NewCert(key->get(), request.name, CertKindName(request.kind),
                         request.not_before, request.validity);
  X509_set_issuer_name(cert.get(), X509_get_subject_name(ca->get()));
  std::vector<std::pair<int, std::string>> exts = {
      {NID_basic_constraints, "critical,CA:FALSE"},
      {NID_key_usage, "critical,digitalSignature,keyEncipherment"},
      {NID_ext_key_usage, request.kind == CertKind::kUser
                              ? "clientAuth"
                              : "serverAuth,clientAuth"},
      {NID_authority_key_identifier, "keyid"}};
  std::vector<std::string> sans;
  for (const std::string& h : request.hosts) {
    if (h.empty()) continue;
    sans.push_back(absl::StrCat(IsIp(h) ? "IP:" : "DNS:", h));
  }
  if (!sans.empty()) {
    exts.push_back({NID_subject_alt_name, absl::StrJoin(sans, ",")});
  }
  for (const auto& [nid, v] : exts) {
    if (auto s = AddExt(cert.get(), ca->get(), nid, v); !s.ok()) return s;
  }
  if (X509_sign(cert.get(), ca_key->get(), EVP_sha256()) == 0) {
    return absl::InternalError("signing: " + OpensslError());
  }
  if (auto s = MakeDir(out_dir); !s.ok()) return s;
  // Replacing a running daemon's files (rotation): write all three first,
  // then rename them in a row, so its file watcher (which re-reads every
  // second) sees at most a microsecond-wide mix of old and new.
  const std::vector<std::pair<std::string, std::pair<std::string, mode_t>>>
      files = {{"key.pem", {KeyPem(key->get()), 0600}},
               {"cert.pem", {CertPem(cert.get()), 0644}},
               {"ca.pem", {CertPem(ca->get()), 0644}}};
  for (const auto& [name, body] : files) {
    if (auto s =
            WriteFile(out_dir + "/" + name + ".new", body.first, body.second);
        !s.ok()) {
      return s;
    }
  }
  for (const auto& [name, body] : files) {
    std::string from = out_dir + "/" + name + ".new";
    if (std::rename(from.c_str(), (out_dir + "/" + name).c_str()) != 0) {
      return absl::InternalError(
          absl::StrCat("cannot rename ", from, ": ", std::strerror(errno)));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<CertInfo> ReadCertInfo(const std::string& cert_path) {
  auto cert = LoadCert(cert_path);
  if (!cert.ok()) return cert.status();
  CertInfo info;
  X509_NAME* subject = X509_get_subject_name(cert->get());
  info.common_name = Entry(subject, NID_commonName);
  info.kind = Entry(subject, NID_organizationalUnitName);
  info.not_before = AsnTime(X509_get0_notBefore(cert->get()));
  info.not_after = AsnTime(X509_get0_notAfter(cert->get()));
  auto* names = static_cast<GENERAL_NAMES*>(
      X509_get_ext_d2i(cert->get(), NID_subject_alt_name, nullptr, nullptr));
  for (int i = 0; names != nullptr && i < sk_GENERAL_NAME_num(names); ++i) {
    GENERAL_NAME* g = sk_GENERAL_NAME_value(names, i);
    if (g->type == GEN_DNS) {
      info.hosts.emplace_back(
          reinterpret_cast<const char*>(ASN1_STRING_get0_data(g->d.dNSName)),
          ASN1_STRING_length(g->d.dNSName));
    } else if (g->type == GEN_IPADD) {
      char buf[64] = {0};
      int len = ASN1_STRING_length(g->d.iPAddress);
      inet_ntop(len == 4 ? AF_INET : AF_INET6,
                ASN1_STRING_get0_data(g->d.iPAddress), buf, sizeof(buf));
      info.hosts.emplace_back(buf);
    }
  }
  GENERAL_NAMES_free(names);
  return info;
}

absl::Status CheckCertFiles(const std::string& ca_path,
                            const std::string& cert_path,
                            const std::string& key_path, absl::Time now) {
  auto ca = LoadCert(ca_path);
  if (!ca.ok()) return ca.status();
  auto cert = LoadCert(cert_path);
  if (!cert.ok()) return cert.status();
  auto key = LoadKey(key_path);
  if (!key.ok()) return key.status();
  if (X509_check_private_key(cert->get(), key->get()) != 1) {
    ERR_clear_error();
    return absl::InvalidArgumentError(
        absl::StrCat("the key in ", key_path,
                     " does not match the certificate in ", cert_path));
  }
  std::unique_ptr<X509_STORE, Free> store(X509_STORE_new());
  // Every CA in the file, not only the first: during a CA rotation ca.pem
  // holds the old and the new CA (docs/security.md), and a certificate of
  // either must pass, as it does in gRPC's handshake.
  if (X509_STORE_load_file(store.get(), ca_path.c_str()) != 1) {
    ERR_clear_error();
    X509_STORE_add_cert(store.get(), ca->get());
  }
  std::unique_ptr<X509_STORE_CTX, Free> ctx(X509_STORE_CTX_new());
  X509_STORE_CTX_init(ctx.get(), store.get(), cert->get(), nullptr);
  X509_STORE_CTX_set_time(ctx.get(), 0, absl::ToTimeT(now));
  if (X509_verify_cert(ctx.get()) == 1) return absl::OkStatus();
  int err = X509_STORE_CTX_get_error(ctx.get());
  ERR_clear_error();
  X509* leaf = cert->get();
  if (err == X509_V_ERR_CERT_HAS_EXPIRED) {
    return absl::UnauthenticatedError(
        absl::StrCat("certificate ", cert_path, " expired at ",
                     absl::FormatTime(AsnTime(X509_get0_notAfter(leaf)),
                                      absl::UTCTimeZone())));
  }
  if (err == X509_V_ERR_CERT_NOT_YET_VALID) {
    return absl::UnauthenticatedError(
        absl::StrCat("certificate ", cert_path, " is not valid before ",
                     absl::FormatTime(AsnTime(X509_get0_notBefore(leaf)),
                                      absl::UTCTimeZone())));
  }
  if (err == X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY ||
      err == X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT ||
      err == X509_V_ERR_CERT_SIGNATURE_FAILURE ||
      err == X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT) {
    return absl::UnauthenticatedError(absl::StrCat(
        "certificate ", cert_path, " is not signed by the CA in ", ca_path));
  }
  return absl::UnauthenticatedError(
      absl::StrCat("certificate ", cert_path, " does not verify against ",
                   ca_path, ": ", X509_verify_cert_error_string(err)));
}

}  // namespace berth::tls
