/* Tokenledger: what every page shares. Number formats (the same rules as the Django filters in
 * usage/templatetags/tokenledger.py), the viewer's timezone cookie, the navigation toggle, copy
 * buttons, confirmations, and the fallback loader for vendor scripts. Loaded in <head>. */
(function () {
  "use strict";

  var TZ_COOKIE = "tl_tz";
  var TZ_MANUAL = "tl_tz_manual";
  var YEAR = 365 * 24 * 3600;
  var UNITS = [[1e12, "T"], [1e9, "B"], [1e6, "M"], [1e3, "K"]];
  var groupFormat = new Intl.NumberFormat("en-US", { maximumFractionDigits: 0 });
  var oneDecimal = new Intl.NumberFormat("en-US", {
    minimumFractionDigits: 1, maximumFractionDigits: 1,
  });

  function compact(value) {
    if (value === null || value === undefined || isNaN(value)) return "–";
    var sign = value < 0 ? "-" : "";
    var n = Math.abs(Number(value));
    if (n < 1000) return sign + groupFormat.format(Math.round(n));
    for (var i = 0; i < UNITS.length; i++) {
      if (n >= UNITS[i][0]) {
        var scaled = Math.round((n / UNITS[i][0]) * 10) / 10;
        if (scaled >= 1000 && i > 0) {
          scaled = Math.round((n / UNITS[i - 1][0]) * 10) / 10;
          return sign + oneDecimal.format(scaled) + " " + UNITS[i - 1][1];
        }
        return sign + oneDecimal.format(scaled) + " " + UNITS[i][1];
      }
    }
    return sign + String(n);
  }

  function money(value) {
    if (value === null || value === undefined || isNaN(value)) return "–";
    var sign = value < 0 ? "-" : "";
    var n = Math.abs(Number(value));
    if (n === 0) return "$0.00";
    if (n >= 1) {
      return sign + "$" + n.toLocaleString("en-US", {
        minimumFractionDigits: 2, maximumFractionDigits: 2,
      });
    }
    if (n < 0.0001) return sign + "<$0.0001";
    var text = n.toFixed(4).replace(/0+$/, "");
    var parts = text.split(".");
    var decimals = (parts[1] || "");
    while (decimals.length < 2) decimals += "0";
    return sign + "$" + parts[0] + "." + decimals;
  }

  function ms(value) {
    if (value === null || value === undefined || isNaN(value)) return "–";
    if (value >= 10000) return (value / 1000).toFixed(1) + " s";
    return groupFormat.format(Math.round(value)) + " ms";
  }

  function cookie(name) {
    var match = document.cookie.match(new RegExp("(?:^|; )" + name + "=([^;]*)"));
    return match ? match[1] : "";
  }

  // Zone names are written raw (Django does not URL-decode cookies); anything that is not a
  // zone-name character is dropped, so the value needs no quoting.
  function setCookie(name, value, maxAge) {
    var safe = String(value).replace(/[^A-Za-z0-9_+\-\/]/g, "");
    document.cookie = name + "=" + safe + "; path=/; max-age=" + maxAge + "; SameSite=Lax";
  }

  function browserZone() {
    try {
      return Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
    } catch (e) {
      return "UTC";
    }
  }

  // The browser's zone is remembered in a cookie unless the viewer chose one in the header.
  // Pages that bucket by zone (data-tz-sensitive on <body>) reload once when it changes.
  function syncZone() {
    if (cookie(TZ_MANUAL) === "1") return false;
    var zone = browserZone();
    if (cookie(TZ_COOKIE) === zone) return false;
    setCookie(TZ_COOKIE, zone, YEAR);
    return true;
  }

  function chooseZone(zone) {
    if (zone) {
      setCookie(TZ_COOKIE, zone, YEAR);
      setCookie(TZ_MANUAL, "1", YEAR);
    } else {
      setCookie(TZ_MANUAL, "", 0);
      setCookie(TZ_COOKIE, browserZone(), YEAR);
    }
    window.location.reload();
  }

  function zoneNames() {
    try {
      return Intl.supportedValuesOf("timeZone");
    } catch (e) {
      return [];
    }
  }

  // Any IANA name or alias the browser knows (Intl's list holds only canonical names).
  function isZone(name) {
    try {
      new Intl.DateTimeFormat("en-US", { timeZone: name });
      return /^[A-Za-z0-9_+\-\/]+$/.test(name);
    } catch (e) {
      return false;
    }
  }

  function setupZoneForm() {
    var form = document.getElementById("tz-form");
    if (!form) return;
    var input = form.querySelector("input[name=tz]");
    var list = document.getElementById("tz-names");
    if (list && !list.options.length) {
      var names = zoneNames();
      var fragment = document.createDocumentFragment();
      names.forEach(function (name) {
        var option = document.createElement("option");
        option.value = name;
        fragment.appendChild(option);
      });
      list.appendChild(fragment);
    }
    var error = form.querySelector(".tz-error");
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var value = input.value.trim();
      if (value && !isZone(value)) {
        error.textContent = "Unknown timezone. Pick a name from the list, e.g. Europe/Berlin.";
        input.setAttribute("aria-invalid", "true");
        input.focus();
        return;
      }
      chooseZone(value);
    });
    var auto = form.querySelector("[data-tz-auto]");
    if (auto) {
      auto.addEventListener("click", function () { chooseZone(""); });
    }
  }

  function setupNav() {
    var toggle = document.getElementById("nav-toggle");
    var nav = document.getElementById("sidebar");
    if (!toggle || !nav) return;
    toggle.addEventListener("click", function () {
      var open = toggle.getAttribute("aria-expanded") === "true";
      toggle.setAttribute("aria-expanded", open ? "false" : "true");
      nav.classList.toggle("open", !open);
    });
  }

  function setupCopy() {
    document.querySelectorAll("[data-copy-target]").forEach(function (button) {
      button.addEventListener("click", function () {
        var target = document.getElementById(button.getAttribute("data-copy-target"));
        if (!target) return;
        var text = target.value !== undefined ? target.value : target.textContent;
        var status = document.getElementById(button.getAttribute("aria-describedby") || "");
        function done(message) {
          if (status) status.textContent = message;
          button.textContent = message === "Copied" ? "Copied" : "Copy";
        }
        if (navigator.clipboard && window.isSecureContext) {
          navigator.clipboard.writeText(text).then(function () { done("Copied"); },
            function () { target.select && target.select(); done("Press Ctrl+C to copy"); });
        } else {
          if (target.select) target.select();
          try {
            document.execCommand("copy");
            done("Copied");
          } catch (e) {
            done("Press Ctrl+C to copy");
          }
        }
      });
    });
  }

  function setupConfirm() {
    document.querySelectorAll("form[data-confirm]").forEach(function (form) {
      form.addEventListener("submit", function (event) {
        if (!window.confirm(form.getAttribute("data-confirm"))) event.preventDefault();
      });
    });
  }

  // Elements with data-format="compact|money|ms" and data-value get their text formatted here;
  // the server already renders the same text, this keeps client-updated values consistent.
  function formatAll(root) {
    (root || document).querySelectorAll("[data-format][data-value]").forEach(function (el) {
      var kind = el.getAttribute("data-format");
      var value = Number(el.getAttribute("data-value"));
      if (kind in FORMATS) el.textContent = FORMATS[kind](value);
    });
  }

  var FORMATS = { compact: compact, money: money, ms: ms };

  // A vendor script whose local copy failed to load: load the pinned CDN copy with its SRI
  // hash, then tell the page (TL.whenChart waits for this).
  function loadFallback(script) {
    var replacement = document.createElement("script");
    replacement.src = script.getAttribute("data-fallback-src");
    replacement.integrity = script.getAttribute("data-fallback-integrity");
    replacement.crossOrigin = "anonymous";
    replacement.onload = function () { document.dispatchEvent(new Event("tl:vendor-loaded")); };
    document.head.appendChild(replacement);
  }

  // The vendor <script> tags come after this file (which is not deferred), so this listener is
  // in place before they can fail. Load errors do not bubble: it listens in the capture phase.
  document.addEventListener("error", function (event) {
    var script = event.target;
    if (script && script.tagName === "SCRIPT" && script.hasAttribute("data-fallback-src") &&
        !script.hasAttribute("data-fallback-tried")) {
      script.setAttribute("data-fallback-tried", "");
      loadFallback(script);
    }
  }, true);

  function whenChart(callback) {
    if (window.Chart) {
      callback(window.Chart);
      return;
    }
    document.addEventListener("tl:vendor-loaded", function handler() {
      if (window.Chart) {
        document.removeEventListener("tl:vendor-loaded", handler);
        callback(window.Chart);
      }
    });
  }

  window.TL = {
    fmt: FORMATS,
    formatAll: formatAll,
    browserZone: browserZone,
    loadFallback: loadFallback,
    whenChart: whenChart,
  };

  var zoneChanged = syncZone();
  document.addEventListener("DOMContentLoaded", function () {
    // At most one reload per tab session, so a browser that refuses cookies is not looped.
    if (zoneChanged && document.body.hasAttribute("data-tz-sensitive") &&
        !sessionStorage.getItem("tl_tz_reloaded")) {
      sessionStorage.setItem("tl_tz_reloaded", "1");
      window.location.reload();
      return;
    }
    setupNav();
    setupZoneForm();
    setupCopy();
    setupConfirm();
  });
})();
