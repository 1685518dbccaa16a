// Shows each <time data-local> in the browser's time zone and the page's
// language. The server does not know the zone, so it writes the moment in
// UTC (the datetime attribute, and the text for a browser without
// scripts); this replaces the text and keeps the UTC one as a tooltip.
(function () {
  var lang = document.documentElement.lang || undefined;
  var format;
  try {
    format = new Intl.DateTimeFormat(lang, {
      year: "numeric", month: "long", day: "numeric",
      hour: "2-digit", minute: "2-digit", hourCycle: "h23", timeZoneName: "short"
    });
  } catch (e) {
    return; // no Intl: the UTC text stays
  }
  document.querySelectorAll("time[data-local][datetime]").forEach(function (el) {
    var d = new Date(el.getAttribute("datetime"));
    if (isNaN(d.getTime())) return;
    el.title = el.textContent;
    el.textContent = format.format(d);
    el.setAttribute("data-localized", "");
  });
})();
