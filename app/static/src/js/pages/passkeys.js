/* Passkeys (WebAuthn): add one on the passkeys page, sign in with one, or use one as the
 * second step.  Loaded only on those pages (bundle passkeys_js), never inline (strict CSP).
 *
 * Each block is an element with data-passkey="register" | "sign-in" | "second-step",
 * data-options-url and data-verify-url, and a csrf_token input (sent as X-CSRFToken).  Its [data-passkey-start] button stays
 * disabled, and its [data-passkey-note] ("needs JavaScript") shown, without JavaScript
 * (or when this script did not load); without WebAuthn the note says so.  Messages go to
 * its [data-passkey-status] element (an aria-live region).  The server answers JSON; a
 * refusal is application/problem+json whose "detail" is shown as it is (as text). */
(function () {
  "use strict";

  function fromBase64url(text) {
    var base64 = text.replace(/-/g, "+").replace(/_/g, "/");
    base64 += "====".slice((base64.length + 3) % 4 + 1);
    var binary = atob(base64);
    var bytes = new Uint8Array(binary.length);
    for (var i = 0; i < binary.length; i++) {
      bytes[i] = binary.charCodeAt(i);
    }
    return bytes.buffer;
  }

  function toBase64url(buffer) {
    var bytes = new Uint8Array(buffer);
    var binary = "";
    for (var i = 0; i < bytes.length; i++) {
      binary += String.fromCharCode(bytes[i]);
    }
    return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function descriptors(list) {
    return (list || []).map(function (item) {
      return { type: item.type, id: fromBase64url(item.id), transports: item.transports };
    });
  }

  // PublicKeyCredentialCreationOptionsJSON / RequestOptionsJSON -> what the API takes.
  function creationOptions(json) {
    json.challenge = fromBase64url(json.challenge);
    json.user.id = fromBase64url(json.user.id);
    json.excludeCredentials = descriptors(json.excludeCredentials);
    return json;
  }

  function requestOptions(json) {
    json.challenge = fromBase64url(json.challenge);
    json.allowCredentials = descriptors(json.allowCredentials);
    return json;
  }

  // The credential as RegistrationResponseJSON / AuthenticationResponseJSON (WebAuthn L3).
  function credentialJSON(credential) {
    var r = credential.response;
    var response = { clientDataJSON: toBase64url(r.clientDataJSON) };
    if (r.attestationObject) {
      response.attestationObject = toBase64url(r.attestationObject);
      response.transports = typeof r.getTransports === "function" ? r.getTransports() : [];
    } else {
      response.authenticatorData = toBase64url(r.authenticatorData);
      response.signature = toBase64url(r.signature);
      if (r.userHandle) {
        response.userHandle = toBase64url(r.userHandle);
      }
    }
    return {
      id: credential.id,
      rawId: toBase64url(credential.rawId),
      type: credential.type,
      authenticatorAttachment: credential.authenticatorAttachment || undefined,
      clientExtensionResults: credential.getClientExtensionResults(),
      response: response
    };
  }

  function postJSON(url, csrf, body) {
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: {
        "Accept": "application/json",
        "Content-Type": "application/json",
        "X-CSRFToken": csrf
      },
      body: JSON.stringify(body)
    }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (data) {
        if (!response.ok) {
          var message = data.detail ||
            (response.status === 429 ? "Too many attempts. Please wait a minute and try again."
              : "Something went wrong (" + response.status + "). Please try again.");
          throw new Error(message);
        }
        return data;
      });
    });
  }

  // What the browser's own errors mean to a person (DOMException names, WebAuthn L2 5.1.3/5.1.4).
  function explain(error) {
    if (error && error.name === "NotAllowedError") {
      return "The passkey request was cancelled or timed out. Please try again.";
    }
    if (error && error.name === "InvalidStateError") {
      return "This device already has a passkey for your account.";
    }
    if (error && error.name === "SecurityError") {
      return "Passkeys can't be used at this address.";
    }
    if (error && error.name && error.name !== "Error") {
      return "Your browser refused the passkey request (" + error.name + ").";
    }
    return (error && error.message) || "Something went wrong. Please try again.";
  }

  function show(status, message, level) {
    status.textContent = "";
    if (!message) {
      return;
    }
    var note = document.createElement("div");
    note.className = "alert alert-" + level + " mb-0";
    note.textContent = message;
    status.appendChild(note);
  }

  function optionsBody(block) {
    if (block.dataset.passkey !== "register") {
      return {};
    }
    var password = block.querySelector("input[type=password]");
    return { password: password ? password.value : "" };
  }

  function verifyBody(block, credential) {
    var body = { credential: credentialJSON(credential) };
    if (block.dataset.passkey === "register") {
      var name = block.querySelector("input[name=passkey_name]");
      body.name = name ? name.value : "";
    }
    if (block.dataset.passkey === "sign-in") {
      var remember = document.getElementById("remember");
      body.remember = Boolean(remember && remember.checked);
    }
    return body;
  }

  function run(block, button, status) {
    var csrf = block.querySelector("input[name=csrf_token]").value;
    var registering = block.dataset.passkey === "register";
    button.disabled = true;
    show(status, registering ? "Follow your browser's prompts to create the passkey…"
      : "Follow your browser's prompts to use your passkey…", "info");
    postJSON(block.dataset.optionsUrl, csrf, optionsBody(block))
      .then(function (options) {
        return registering
          ? navigator.credentials.create({ publicKey: creationOptions(options) })
          : navigator.credentials.get({ publicKey: requestOptions(options) });
      })
      .then(function (credential) {
        show(status, "Checking…", "info");
        return postJSON(block.dataset.verifyUrl, csrf, verifyBody(block, credential));
      })
      .then(function (result) {
        show(status, registering ? "Passkey added." : "Signed in.", "success");
        window.location.assign(result.redirect);
      })
      .catch(function (error) {
        show(status, explain(error), "danger");
        button.disabled = false;
      });
  }

  function setUp(block) {
    var button = block.querySelector("[data-passkey-start]");
    var status = block.querySelector("[data-passkey-status]");
    var note = block.querySelector("[data-passkey-note]");
    if (!button || !status) {
      return;
    }
    if (!window.PublicKeyCredential || !navigator.credentials) {
      if (note) {
        note.textContent = "This browser can't use passkeys.";
      }
      return;
    }
    if (note) {
      note.hidden = true;  // the "needs JavaScript" note: JavaScript is here
    }
    button.disabled = false;
    var form = button.form;
    if (form) {
      form.addEventListener("submit", function (event) {
        event.preventDefault();
        run(block, button, status);
      });
    } else {
      button.addEventListener("click", function () {
        run(block, button, status);
      });
    }
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-passkey]").forEach(setUp);
  });
})();
