"""HTML extraction (issue 17, item 7): the `html` check key (checks-html)
and the `html:`/`xpath:` capture sources against the test nginx's
/page.html, with the captured values sent on and read back by the
recording server; what fails says why; load-time errors name their place.
The page is parsed once per response for all of a step's html checks and
captures (common/html keeps it in the response's memo)."""
import json
import unittest

from volleytest import NGINX, Recorder, VolleyCase


class HtmlTest(VolleyCase):
    def setUp(self):
        super().setUp()
        self.rec = Recorder()

    def tearDown(self):
        self.rec.stop()

    @staticmethod
    def checks(summary):
        got = {c["name"]: (c["passes"], c["fails"]) for c in summary["root_group"]["checks"].values()}
        # captures are counted apart from checks; "capture NAME" here
        got.update({"capture " + c["name"]: (c["passes"], c["fails"])
                    for c in summary.get("captures", [])})
        return got

    def test_checks_and_captures(self):
        """k6's res.html(sel).text() / .attr() as checks and captures (the
        CSRF token of pantheon-like flows, es6sample.js's p.description,
        pantheon.js's title and h1); the captures reach the next request."""
        rc, out, err, s = self.run_spec("""
            version: 1
            scenarios:
              s:
                executor: per-vu-iterations
                vus: 2
                iterations: 2
                flow:
                  - http: { url: "${env.NGINX}/page.html" }
                    check:
                      - name: title is correct
                        html: { select: title, equals: "Welcome to Pizza | Shop" }
                      - name: welcome message
                        html: { select: p.description, contains: "This is a replacement" }
                      - name: checkout
                        html: { select: "h1", equals: Checkout complete }
                      - name: three items
                        html: { select: "ul.items > li", count: 3 }
                      - name: second item
                        html: { select: "li:nth-child(2)", equals: two }
                      - name: utf-8 text
                        html: { select: p.lead, contains: "café" }
                      - name: lang
                        html: { xpath: "//html/@lang", equals: en }
                      - name: token there
                        html: { select: "input[name=csrftoken]", attr: value, exists: true }
                      - name: no logout link
                        html: { select: "#logout", exists: false }
                      - name: shorthand
                        html: "form#login"
                      - name: repaired markup
                        html: { select: "div i", equals: markup }
                    capture:
                      csrf: { html: "input[name=csrftoken]", attr: value }
                      last: { html: "ul.items li", index: -1 }
                      title: { xpath: "//title/text()" }
                      all: { html: "li" }
                  - http:
                      method: POST
                      url: "@REC@/login"
                      form: { csrftoken: "${csrf}", last: "${last}", title: "${title}", all: "${all}" }
        """.replace("@REC@", self.rec.url))
        self.assertEqual(rc, 0, err)
        got = self.checks(s)
        for name in ("title is correct", "welcome message", "checkout", "three items", "second item",
                     "utf-8 text", "lang", "token there", "no logout link", "shorthand",
                     "repaired markup", "capture csrf", "capture last", "capture title", "capture all"):
            self.assertEqual(got[name], (4, 0), name)
        posts = [r for r in self.rec.taken() if r["path"] == "/login"]
        self.assertEqual(len(posts), 4)
        for r in posts:
            self.assertEqual(r["body"], "csrftoken=tok-8f3a&last=three%21&title=Welcome+to+Pizza+%7C+Shop"
                                        "&all=onetwothree%21")

    def test_failures_say_why(self):
        """A failing html check or capture names the selector and what it found."""
        rc, out, err, s = self.run_spec("""
            version: 1
            scenarios:
              s:
                executor: per-vu-iterations
                vus: 1
                iterations: 1
                flow:
                  - http: { url: "${env.NGINX}/page.html" }
                    check:
                      - { name: wrong text, html: { select: h1, equals: Nope } }
                      - { name: wrong count, html: { select: li, count: 2 } }
                      - { name: missing, html: { select: "nav a" } }
                      - { name: no attr, html: { select: h1, attr: title } }
                      - { name: index, html: { select: li, index: 7 } }
                      - { name: not json, json: { path: x } }
                    capture:
                      tok: { html: "input[name=nope]", attr: value }
        """)
        self.assertEqual(rc, 0, err)   # no threshold: checks only count
        fails = {c["name"]: c for c in s["root_group"]["checks"].values()}
        self.assertEqual(fails["wrong text"]["fails"], 1)
        self.assertIn('html: select h1: text "Checkout complete" (expected "Nope")', out)
        self.assertIn("html: select li: 3 matches (expected 2)", out)
        self.assertIn("html: select nav a: no match", out)
        self.assertIn("html: select h1: the match has no attribute title", out)
        self.assertIn("html: select li: 3 matches, none at index 7", out)
        self.assertIn("captures that failed\n     ✗ tok", out)
        self.assertIn("html input[name=nope]: no match in the body", out)

    def test_load_errors(self):
        """Bad selectors and XPaths are refused at load time, at their place."""
        spec = self.write_spec("""
            version: 1
            scenarios:
              s:
                executor: per-vu-iterations
                vus: 1
                iterations: 1
                flow:
                  - http: { url: "http://127.0.0.1:1/" }
                    check:
                      - { name: a, html: { select: "li >" } }
                      - { name: b, html: { xpath: "//li[" } }
                      - { name: c, html: { select: li, xpath: //li } }
                    capture:
                      x: { html: "p::before" }
                      y: { xpath: "//p", attr: "" }
                      z: { html: p, nth: 2 }
        """)
        rc, out, err = self.volley("validate", spec)
        self.assertEqual(rc, 104, err)
        self.assertIn("invalid selector \"li >\": expected a selector after '>' at character 5", err)
        self.assertIn("invalid XPath \"//li[\": Invalid expression", err)
        self.assertIn("select and xpath cannot be used together", err)
        self.assertIn(":15:22: error: scenarios.s.flow[0].capture.x.html: invalid selector \"p::before\": "
                      "pseudo-elements (::) select no element at character 3", err)
        self.assertIn("capture.y.attr: expected a non-empty string", err)
        self.assertIn("unknown key \"nth\" (an html capture takes html or xpath, attr, index)", err)

    def test_one_parse_per_response(self):
        """Many html checks and captures of a step share one parse of the
        response: on a 90 KB page with conditions that cost next to nothing
        (a direct XPath path), 12 of them take little more time per
        response than one (a parse each would take ~12 times as long)."""
        rows = "".join("<tr><td class=n>%d</td><td>row %d</td></tr>" % (i, i) for i in range(2000))
        page = "<html><body><table>%s</table><p id=end>end</p></body></html>" % rows
        med = {}
        for n in (1, 12):
            conds = "\n".join("          - { name: c%d, html: { xpath: \"/html/body/p[@id='end']\", "
                               "equals: end } }" % i for i in range(n - 1))
            rc, out, err, s = self.run_spec("""
version: 1
scenarios:
  s:
    executor: per-vu-iterations
    vus: 1
    iterations: 30
    flow:
      - http: { method: PUT, url: "@URL@/page", body: "${env.PAGE}" }
        check:
          - { name: last, html: { xpath: "/html/body/p", equals: end } }
%s
        capture:
          end: { html: "p#end" }
""".replace("@URL@", self.rec.url) % conds, env={"PAGE": page})
            self.assertEqual(rc, 0, err)
            self.assertEqual(self.checks(s)["last"], (30, 0))
            self.assertEqual(self.checks(s)["capture end"], (30, 0))
            med[n] = s["metrics"]["iteration_duration"]["med"]
        self.assertLess(med[12], med[1] * 3, med)


if __name__ == "__main__":
    unittest.main()
