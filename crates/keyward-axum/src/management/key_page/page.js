"use strict";
(() => {
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const error = document.getElementById("error");
  const reveal = document.getElementById("reveal");
  const token = document.getElementById("reveal-token");
  const copy = document.getElementById("copy");

  const fail = (message) => {
    error.textContent = message;
    error.hidden = false;
  };

  // POSTs `body` as JSON to the form's action with the session's CSRF token; the answer's JSON,
  // or null after showing the error.
  const send = async (form, body) => {
    error.hidden = true;
    let response;
    try {
      response = await fetch(form.action, {
        method: "POST",
        credentials: "same-origin",
        cache: "no-store",
        headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
        body: JSON.stringify(body),
      });
    } catch (e) {
      fail("The server could not be reached: " + e.message);
      return null;
    }
    const answer = await response.json().catch(() => null);
    if (!response.ok) {
      const message = answer && answer.error ? answer.error.message : "";
      fail("Refused (" + response.status + "): " + message);
      return null;
    }
    return answer;
  };

  // The token is shown in the dialog once; closing it forgets it and shows the keys again.
  const show = (answer) => {
    document.getElementById("reveal-name").textContent = answer.key.name;
    reveal.dataset.keyId = answer.key.id;
    token.value = answer.token;
    copy.textContent = "Copy to clipboard";
    reveal.showModal();
    token.select();
  };
  const forget = () => {
    token.value = "";
    location.reload();
  };
  reveal.addEventListener("close", forget);
  document.getElementById("done").addEventListener("click", () => reveal.close());

  copy.addEventListener("click", async () => {
    const target = document.getElementById(copy.dataset.copyTarget);
    try {
      await navigator.clipboard.writeText(target.value);
      copy.textContent = "Copied";
    } catch (e) {
      target.select();
      copy.textContent = document.execCommand("copy") ? "Copied" : "Press Ctrl+C to copy";
    }
  });

  document.getElementById("create").addEventListener("submit", async (event) => {
    event.preventDefault();
    const form = event.target;
    const body = { name: form.elements.name.value, kind: form.elements.kind.value };
    const scopes = form.elements.scopes.value.trim();
    if (scopes) body.scopes = scopes;
    const expires = form.elements.expires_in.value.trim();
    if (expires) body.expires_in = expires;
    const answer = await send(form, body);
    if (answer) show(answer);
  });

  for (const form of document.querySelectorAll("form.rotate")) {
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      if (!confirm("Rotate the key “" + form.dataset.name + "”? A new key is shown once.")) return;
      const answer = await send(form, {});
      if (answer) show(answer);
    });
  }

  for (const form of document.querySelectorAll("form.revoke")) {
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      if (!confirm("Revoke the key “" + form.dataset.name + "”? It stops working at once.")) return;
      if (await send(form, {})) location.reload();
    });
  }
})();
