/* Dashboard charts (Chart.js 4). The server embeds the zero-filled series with json_script;
 * this file only draws them. Charts are reachable as Chart.getChart("chart-quota") etc. */
(function () {
  "use strict";

  // Distinguishable in light and dark mode (Tableau-like hues, WCAG-friendly on both grounds).
  var PALETTE = ["#3b82f6", "#f59e0b", "#10b981", "#ef4444", "#8b5cf6", "#06b6d4",
    "#ec4899", "#84cc16", "#94a3b8"];
  var TOKEN_CLASSES = [
    ["prompt", "Prompt", "#3b82f6"],
    ["completion", "Completion", "#10b981"],
    ["cache_read", "Cache read", "#f59e0b"],
    ["cache_creation", "Cache write", "#8b5cf6"],
  ];

  function css(name) {
    return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
  }

  function setupFilters() {
    var form = document.getElementById("dashboard-filters");
    if (!form) return;
    var custom = document.getElementById("custom-dates");
    form.querySelectorAll("input[data-autosubmit]").forEach(function (input) {
      input.addEventListener("change", function () {
        if (input.name === "range") {
          // A preset replaces custom dates: drop them so they are not submitted.
          form.querySelectorAll("#custom-dates input").forEach(function (d) { d.value = ""; });
        }
        form.requestSubmit();
      });
    });
    var customRadio = document.getElementById("range-custom");
    if (customRadio && custom) {
      customRadio.addEventListener("change", function () {
        custom.classList.remove("is-collapsed");
        var first = custom.querySelector("input");
        if (first) first.focus();
      });
    }
  }

  function draw(Chart) {
    var source = document.getElementById("dashboard-data");
    if (!source) return;
    var data = JSON.parse(source.textContent);
    var unit = data.quota_per_unit || 500000;
    var fmt = window.TL.fmt;

    Chart.defaults.color = css("--muted") || "#475569";
    Chart.defaults.borderColor = css("--border") || "#e2e8f0";
    Chart.defaults.font.family = getComputedStyle(document.body).fontFamily;
    Chart.defaults.maintainAspectRatio = false;
    Chart.defaults.animation = false;
    Chart.defaults.plugins.legend.labels.boxWidth = 10;
    Chart.defaults.plugins.legend.labels.boxHeight = 10;

    function color(i) { return PALETTE[i % PALETTE.length]; }
    var xAxis = { ticks: { maxRotation: 0, autoSkip: true, autoSkipPadding: 12 },
      grid: { display: false } };

    var quotaCanvas = document.getElementById("chart-quota");
    if (quotaCanvas) {
      new Chart(quotaCanvas, {
        type: "bar",
        data: {
          labels: data.labels,
          datasets: data.models.map(function (model, i) {
            return { label: model, data: data.quota[i].map(function (q) { return q / unit; }),
              backgroundColor: color(i), stack: "quota", borderRadius: 2, maxBarThickness: 36 };
          }),
        },
        options: {
          interaction: { mode: "index", intersect: false },
          scales: {
            x: Object.assign({ stacked: true }, xAxis),
            y: { stacked: true, beginAtZero: true,
              ticks: { callback: function (v) { return fmt.money(v); } } },
          },
          plugins: {
            legend: { position: "bottom" },
            tooltip: {
              callbacks: {
                label: function (ctx) { return ctx.dataset.label + ": " + fmt.money(ctx.parsed.y); },
                footer: function (items) {
                  var sum = items.reduce(function (a, it) { return a + it.parsed.y; }, 0);
                  return "Total: " + fmt.money(sum);
                },
              },
            },
          },
        },
      });
    }

    var requestsCanvas = document.getElementById("chart-requests");
    if (requestsCanvas) {
      new Chart(requestsCanvas, {
        type: "line",
        data: {
          labels: data.labels,
          datasets: data.models.map(function (model, i) {
            return { label: model, data: data.requests[i], borderColor: color(i),
              backgroundColor: color(i), cubicInterpolationMode: "monotone", pointRadius: data.labels.length > 60 ? 0 : 2,
              borderWidth: 2 };
          }),
        },
        options: {
          interaction: { mode: "index", intersect: false },
          scales: {
            x: xAxis,
            y: { beginAtZero: true, ticks: { precision: 0,
              callback: function (v) { return fmt.compact(v); } } },
          },
          plugins: { legend: { position: "bottom" } },
        },
      });
    }

    var shareCanvas = document.getElementById("chart-share");
    if (shareCanvas) {
      new Chart(shareCanvas, {
        type: "doughnut",
        data: {
          labels: data.models,
          datasets: [{ label: "Requests", data: data.share,
            backgroundColor: data.models.map(function (_, i) { return color(i); }),
            borderColor: css("--surface") || "#fff", borderWidth: 2 }],
        },
        options: {
          cutout: "62%",
          plugins: {
            legend: { position: "bottom" },
            tooltip: {
              callbacks: {
                label: function (ctx) {
                  var total = ctx.dataset.data.reduce(function (a, b) { return a + b; }, 0);
                  var pct = total ? (100 * ctx.parsed / total).toFixed(1) : "0";
                  return ctx.label + ": " + fmt.compact(ctx.parsed) + " (" + pct + "%)";
                },
              },
            },
          },
        },
      });
    }

    var tokensCanvas = document.getElementById("chart-tokens");
    if (tokensCanvas) {
      new Chart(tokensCanvas, {
        type: "bar",
        data: {
          labels: data.labels,
          datasets: TOKEN_CLASSES.map(function (cls) {
            return { label: cls[1], data: data.tokens[cls[0]], backgroundColor: cls[2],
              stack: "tokens", borderRadius: 2, maxBarThickness: 36 };
          }),
        },
        options: {
          interaction: { mode: "index", intersect: false },
          scales: {
            x: Object.assign({ stacked: true }, xAxis),
            y: { stacked: true, beginAtZero: true,
              ticks: { callback: function (v) { return fmt.compact(v); } } },
          },
          plugins: {
            legend: { position: "bottom" },
            tooltip: { callbacks: { label: function (ctx) {
              return ctx.dataset.label + ": " + fmt.compact(ctx.parsed.y);
            } } },
          },
        },
      });
    }
    var usersCanvas = document.getElementById("chart-users");
    if (usersCanvas && data.users) {
      new Chart(usersCanvas, {
        type: "bar",
        data: {
          labels: data.users.labels,
          datasets: [{ label: "Quota", data: data.users.quota.map(function (q) { return q / unit; }),
            backgroundColor: PALETTE[0], borderRadius: 2, maxBarThickness: 18 }],
        },
        options: {
          indexAxis: "y",
          scales: {
            x: { beginAtZero: true, ticks: { callback: function (v) { return fmt.money(v); } } },
            y: { grid: { display: false } },
          },
          plugins: {
            legend: { display: false },
            tooltip: { callbacks: { label: function (ctx) { return fmt.money(ctx.parsed.x); } } },
          },
        },
      });
    }
    document.body.setAttribute("data-charts-ready", "true");
  }

  // Live RPM/TPM: the card re-reads the log stat API (/api/log/self/stat, or /api/log/stat on
  // the site dashboard) with the session; new-api's auth wants the New-Api-User header, which a
  // script can send. Paused while the tab is hidden; an error leaves the last numbers.
  var LIVE_EVERY_MS = 15000;

  function setupLive() {
    var card = document.querySelector("[data-live-url]");
    if (!card) return;
    var rpm = card.querySelector('[data-live="rpm"]');
    var tpm = card.querySelector('[data-live="tpm"]');
    var age = card.querySelector('[data-live="age"]');
    function refresh() {
      if (document.hidden) return;
      fetch(card.getAttribute("data-live-url"), {
        credentials: "same-origin",
        headers: { "New-Api-User": card.getAttribute("data-user-id"), Accept: "application/json" },
      })
        .then(function (response) { return response.json(); })
        .then(function (body) {
          if (!body || !body.success) return;
          rpm.textContent = window.TL.fmt.compact(body.data.rpm);
          tpm.textContent = window.TL.fmt.compact(body.data.tpm);
          if (age) age.textContent = "at " + new Date().toLocaleTimeString();
          card.setAttribute("data-live-refreshed", String(Date.now()));
        })
        .catch(function () { /* offline or logged out: keep the last numbers */ });
    }
    card.tlRefresh = refresh;  // browser tests trigger a refresh without waiting
    window.setInterval(refresh, LIVE_EVERY_MS);
  }

  document.addEventListener("DOMContentLoaded", function () {
    setupFilters();
    setupLive();
    if (!document.getElementById("dashboard-data")) return;
    window.TL.whenChart(function (Chart) {
      draw(Chart);
      // Follow a change of the system's colour scheme: charts resolve their colours once, so
      // they are drawn again with the new palette.
      window.matchMedia("(prefers-color-scheme: dark)").addEventListener("change", function () {
        Object.values(Chart.instances).forEach(function (chart) { chart.destroy(); });
        draw(Chart);
      });
    });
    if (!document.querySelector("canvas")) document.body.setAttribute("data-charts-ready", "true");
  });
})();
