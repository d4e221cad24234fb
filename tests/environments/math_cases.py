r"""Labelled answers for the math grader, written for this project: a problem, a response, the
gold answer, the verdict a careful human grader gives, and why.

The rules behind the verdicts are in environments/math/README.md (Grading). Ordinary answers
sit beside the hard ones: equivalent forms a grader accepts (repeating decimals, units, degree
signs, thousands separators, words in the box) and answers that are no answer (the question's
own arithmetic, an empty box, boxes that disagree). `bench/math_grading.py` reuses them as its
workload.
"""

from __future__ import annotations

from typing import NamedTuple

GENERIC = "Solve the problem. Put your final answer in \\boxed{}."


class Case(NamedTuple):
    gold: str
    response: str
    correct: bool
    reason: str
    prompt: str = GENERIC


def _group(prompt: str, *cases: tuple[str, str, bool, str]) -> list[Case]:
    return [
        Case(gold, response, correct, reason, prompt) for gold, response, correct, reason in cases
    ]


ORDINARY = [
    *_group(
        "What is 37 + 48?",
        ("85", r"37 + 48 = 85, so the answer is \boxed{85}.", True, "the value, with work"),
        ("85", r"\boxed{84}", False, "off by one"),
        ("85", r"\boxed{85.0}", True, "a trailing zero changes nothing"),
    ),
    *_group(
        "What is 37 + 48 - 19?",
        ("66", r"First 37 + 48 = 85, then 85 - 19 = 66. \boxed{66}", True, "the value"),
        ("66", r"\boxed{67}", False, "a wrong value"),
    ),
    *_group(
        "What is 15 - 35?",
        ("-20", r"\boxed{-20}", True, "a negative number"),
        ("-20", r"\boxed{20}", False, "the sign is wrong"),
        ("-20", "\\boxed{\u221220}", True, "a Unicode minus sign"),
    ),
    *_group(
        "What is 2.8 + 1.4?",
        ("4.2", r"\boxed{4.2}", True, "a decimal"),
        ("4.2", r"\boxed{4.20}", True, "a trailing zero"),
        ("4.2", r"\boxed{4.3}", False, "a wrong decimal"),
        ("4.2", r"\boxed{\frac{21}{5}}", True, "the same value as a fraction in lowest terms"),
    ),
    *_group(
        "What is 1/4 + 1/3?",
        ("\\frac{7}{12}", r"\boxed{\frac{7}{12}}", True, "the fraction"),
        ("\\frac{7}{12}", r"\boxed{\dfrac{7}{12}}", True, "\\dfrac is \\frac"),
        ("\\frac{7}{12}", r"\boxed{7/12}", True, "a slash fraction"),
        ("\\frac{7}{12}", r"\boxed{\frac{12}{7}}", False, "upside down"),
        ("\\frac{7}{12}", r"\boxed{\frac{14}{24}}", False, "not in lowest terms"),
        ("\\frac{7}{12}", r"\boxed{0.58}", False, "a rounded decimal is not the value"),
        ("\\frac{7}{12}", r"\boxed{0.58\overline{3}}", True, "the exact repeating decimal"),
    ),
    *_group(
        "What is 3 divided by 4, as a decimal?",
        ("0.75", r"\boxed{0.75}", True, "the decimal"),
        ("0.75", r"\boxed{.75}", True, "no leading zero"),
        ("0.75", r"\boxed{\frac{4}{3}}", False, "the wrong fraction"),
    ),
    *_group(
        GENERIC,
        ("0.75", r"\boxed{\frac{3}{4}}", True, "the same value as a fraction"),
        ("\\frac{3}{4}", r"\boxed{0.75}", True, "the same value as a decimal"),
        ("-\\frac{1}{2}", r"\boxed{-0.5}", True, "a negative decimal"),
        ("-\\frac{1}{2}", r"\boxed{\frac{-1}{2}}", True, "the sign in the numerator"),
        ("-\\frac{1}{2}", r"\boxed{\frac{1}{2}}", False, "the sign is missing"),
        ("\\frac{15}{2}", r"\boxed{7.5}", True, "a decimal"),
        ("\\frac{15}{2}", r"\boxed{7\frac{1}{2}}", True, "a mixed number"),
        ("\\frac{5}{2}", r"\boxed{2\frac{1}{3}}", False, "a wrong mixed number"),
        ("1.45", r"\boxed{1.45}", True, "a decimal"),
        ("24.5", r"\boxed{24.50}", True, "a trailing zero"),
        ("1", r"\boxed{1}", True, "one"),
        ("0", r"\boxed{0}", True, "zero"),
        ("0", r"\boxed{0.0}", True, "zero as a decimal"),
        ("3", r"\boxed{3.5}", False, "a wrong value"),
        ("1200", r"\boxed{120}", False, "a digit short"),
        ("100", r"\boxed{100}.", True, "a period after the box"),
        ("12", r"I don't know.", False, "no answer"),
        ("12", "", False, "an empty response"),
        ("\\frac{1}{3}", r"\boxed{0.33}", False, "a rounded decimal is not one third"),
    ),
    *_group(
        "What percent of 80 is 20?",
        ("25", r"\boxed{25\%}", True, "the percentage, with its sign"),
        ("25", r"\boxed{25}", True, "the percentage"),
        ("25", r"\boxed{25 \text{ percent}}", True, "percent in words"),
        ("25", r"\boxed{0.25}", False, "a ratio where a percentage was asked"),
        ("25", r"\boxed{20\%}", False, "a wrong percentage"),
    ),
    *_group(
        "A price of $80 is raised by 37.5%. By how many percent was it raised?",
        ("37.5", r"\boxed{37.5\%}", True, "the percentage"),
    ),
    *_group(
        "Simplify 3(x + 2) + x + 5.",
        ("4x+11", r"\boxed{4x + 11}", True, "the expression"),
        ("4x+11", r"\boxed{11 + 4x}", True, "the same terms reordered"),
        ("4x+11", r"\boxed{4x+12}", False, "a wrong constant"),
        ("4x+11", r"\boxed{3(x+2)+x+5}", False, "the problem copied back"),
        ("4x+11", r"\boxed{3x + 6 + x + 5}", False, "like terms left uncollected"),
    ),
    *_group(
        "Simplify 5x + 3 - 3x.",
        ("2x+3", r"\boxed{3+2x}", True, "reordered"),
        ("2x+3", r"\boxed{2x-3}", False, "a wrong sign"),
    ),
    *_group(
        "Write (x - 1)(x + 1) + 2 as a polynomial.",
        ("x^2+1", r"\boxed{1 + x^{2}}", True, "reordered, braces in the exponent"),
        ("x^2+1", r"\boxed{x^2-1}", False, "a wrong sign"),
    ),
    *_group(
        "Solve 2x + 3 = 17.",
        ("7", r"So $x = 7$, and the answer is \boxed{x = 7}.", True, "an assignment to x"),
        ("7", r"\boxed{7}", True, "the value"),
        ("7", r"\boxed{x = 8}", False, "a wrong value"),
    ),
    *_group(
        "The roots of x^2 + 2x - 15 = 0 are two integers. What is the smaller one?",
        ("-5", r"The roots are 3 and -5, the smaller is \boxed{-5}.", True, "the value"),
        ("-5", r"\boxed{3}", False, "the larger root"),
    ),
]

REPEATING_DECIMALS = _group(
    "Write the fraction as a decimal.",
    ("\\frac{1}{3}", r"\boxed{0.\overline{3}}", True, "0.333... is one third"),
    ("1/3", r"\boxed{0.\overline{3}}", True, "a slash gold"),
    ("\\frac{1}{7}", r"\boxed{0.\overline{142857}}", True, "a six-digit period"),
    ("\\frac{5}{6}", r"\boxed{0.8\overline{3}}", True, "a period after a fixed digit"),
    ("\\frac{2}{3}", r"\boxed{0.\overline{6}}", True, "two thirds"),
    ("\\frac{1}{3}", r"\boxed{0.\overline{6}}", False, "two thirds is not one third"),
    ("\\frac{4}{3}", r"\boxed{1.\overline{3}}", True, "a whole part"),
    ("\\frac{1}{11}", r"\boxed{0.\overline{09}}", True, "a two-digit period"),
    ("\\frac{1}{11}", r"\boxed{0.\overline{9}}", False, "0.999... is 1, not 1/11"),
    ("0.\\overline{3}", r"\boxed{\frac{1}{3}}", True, "a repeating-decimal gold"),
    ("\\frac{1}{6}", r"\boxed{0.1\bar{6}}", True, "\\bar marks the period too"),
    ("-\\frac{2}{3}", r"\boxed{-0.\overline{6}}", True, "a negative repeating decimal"),
)

UNITS = [
    *_group(
        "Two angles of a triangle are 70° and 80°. What is the third angle, in degrees?",
        ("30", r"\boxed{30^\circ}", True, "a degree sign"),
        ("30", r"\boxed{30°}", True, "a Unicode degree sign"),
        ("30", r"\boxed{30^{\circ}}", True, "a braced degree sign"),
        ("30", r"\boxed{30 \text{ degrees}}", True, "degrees in words"),
        ("30", r"\boxed{30\degree}", True, "\\degree"),
        ("30", r"\boxed{60^\circ}", False, "a wrong angle"),
        ("30", r"The angle is 30 degrees.", True, "no box, the number in a sentence"),
    ),
    *_group(
        "A rectangle is 5 cm wide and 5 cm long. How wide is it, and what is its area?",
        ("5", r"\boxed{5 \text{ cm}}", True, "a unit in \\text"),
        ("5", r"\boxed{5\,\mathrm{cm}}", True, "a unit in \\mathrm after a thin space"),
        ("5", r"\boxed{5 cm}", True, "a bare unit"),
        ("5", r"\boxed{5x}", False, "a variable is not a unit"),
        ("25", r"\boxed{25 \text{ cm}^2}", True, "a squared unit"),
        ("25", r"\boxed{25\ \mathrm{m}^{2}}", True, "a one-letter squared unit"),
    ),
    *_group(
        "A car covers 120 km in 2 hours. What is its average speed?",
        ("60", r"\boxed{60 \text{ km/h}}", True, "a compound unit"),
        ("60", r"\boxed{60 km/h}", True, "a bare compound unit"),
        ("60", r"\boxed{120 \text{ km/h}}", False, "the distance, not the speed"),
    ),
    *_group(
        "Tom buys 4 pens at $3 each. How much does he pay?",
        ("12", r"\boxed{12 \text{ dollars}}", True, "a currency in words"),
        ("12", r"\boxed{\$12}", True, "a dollar sign"),
        ("12", r"\boxed{\$12.00}", True, "cents"),
        ("12", r"\boxed{13 \text{ dollars}}", False, "a wrong amount"),
    ),
    *_group(
        "A book costs $8.75 and a pen $3.75. What do they cost together?",
        ("12.5", r"\boxed{\$12.50}", True, "dollars and cents"),
        ("12.5", r"\boxed{12.50 \text{ USD}}", True, "a currency code"),
        ("12.5", r"\boxed{€12.50}", True, "another currency sign"),
    ),
    *_group(
        "A film starts at 13:20 and lasts 100 minutes. How many minutes past 14:00 does it end?",
        ("40", r"\boxed{40 \text{ minutes}}", True, "minutes"),
        ("40", r"\boxed{40\text{ min}}", True, "an abbreviated unit"),
    ),
    *_group(
        "A train leaves at 9:00 and arrives at 12:00. How many hours is the trip?",
        ("3", r"\boxed{3 \text{ hours}}", True, "hours"),
        ("3", r"\boxed{3 h}", True, "a one-letter unit"),
    ),
    *_group(
        "Ann has 5 apples and eats 3. How many are left?",
        ("2", r"\boxed{2 \text{ apples}}", True, "the thing counted"),
        ("2", r"So she has 2 apples left.", True, "no box"),
        ("2", r"So she has 3 apples left.", False, "no box, wrong"),
    ),
]

THOUSANDS = [
    *_group(
        "What is 617 \u00d7 2?",
        ("1234", r"\boxed{1,234}", True, "a comma between groups of three"),
        ("1234", r"\boxed{1{,}234}", True, "a braced comma"),
        ("1234", r"\boxed{1\,234}", True, "a thin space"),
        ("1234", "\\boxed{1\u2009234}", True, "a Unicode thin space"),
        ("1234", r"\boxed{1\ 234}", True, "a control space"),
        ("1234", r"\boxed{1,23,4}", False, "commas that group nothing"),
        ("1234", r"\boxed{12,34}", False, "a pair, not a number"),
        ("1234", r"\boxed{1.234}", False, "a dot is a decimal point here"),
        ("1234", r"The total is 1,234.", True, "no box, a separator"),
        ("1,234", r"\boxed{1234}", True, "a gold with a separator is the same number"),
    ),
    *_group(
        "How many grams are in 10 kilograms?",
        ("10000", r"\boxed{10,\!000}", True, "a comma with a negative space"),
        ("10000", r"\boxed{10{,}000 \text{ g}}", True, "a separator and a unit"),
        ("10000", r"\boxed{1,000}", False, "a wrong number with a separator"),
    ),
    *_group(
        GENERIC,
        ("1234567", r"\boxed{1,234,567}", True, "two separators"),
        ("1234567.5", r"\boxed{1,234,567.5}", True, "separators and decimals"),
        ("10200", r"\boxed{10,200}", True, "a separator"),
        ("12", r"\boxed{1,2}", False, "a list, not twelve"),
    ),
    *_group(
        "List the solutions of x^2 - 3x + 2 = 0.",
        ("1, 2", r"\boxed{1, 2}", True, "the list"),
        ("1, 2", r"\boxed{2, 1}", True, "solutions in another order"),
        ("1,2", r"\boxed{1,2}", True, "a list gold: the comma separates"),
        ("1,2", r"\boxed{12}", False, "twelve is not the list"),
        ("1, 2", r"\boxed{1}", False, "one solution missing"),
    ),
]

WORDS = _group(
    "Ann has 10 apples and gives away 3. How many does she have left?",
    ("7", r"\boxed{\text{She has } 7 \text{ apples left}}", True, "a sentence around it"),
    ("7", r"\boxed{\text{She has } 8 \text{ apples left}}", False, "a sentence, wrong"),
    ("7", r"\boxed{\text{The answer is } 7}", True, "words before the number"),
    ("7", r"\boxed{\text{The answer is }7\text{.}}", True, "words and a period"),
    ("7", r"\boxed{7 \text{ is the answer}}", True, "words after the number"),
    ("7", r"\boxed{\text{answer: } 7}", True, "a label"),
    ("7", r"\boxed{\text{7 apples}}", True, "the number inside \\text"),
    ("7", r"\boxed{\text{7 or 8}}", False, "two candidates in words"),
    ("7", r"\boxed{7 \text{ or } 8}", False, "two candidates"),
    ("7", r"\boxed{\text{none}}", False, "words, no number"),
    ("7", r"\boxed{\text{seven}}", False, "number words are not read (see README)"),
)

RESTATED = [
    *_group(
        "What is 9 + 3?",
        ("12", r"\boxed{12}", True, "the value"),
        ("12", r"\boxed{9 + 3}", False, "the question's own sum"),
        ("12", r"9 + 3", False, "the question's own sum, no box"),
        ("12", r"The answer is 9+3", False, "the sum in a sentence"),
        ("12", r"$9+3$", False, "the sum in math mode"),
        ("12", r"\boxed{3 + 9}", False, "the sum reordered"),
        ("12", r"\boxed{9 \cdot 1 + 3}", False, "more arithmetic"),
        ("12", r"\boxed{9+3=12}", True, "work, then the value as the last side"),
        ("12", r"\boxed{12 = 9 + 3}", False, "the last side is the sum"),
        ("12", r"\boxed{\frac{24}{2}}", False, "a division left undone"),
        ("12", r"\boxed{\sqrt{144}}", False, "a root of a perfect square"),
        ("12", r"\boxed{12.0}", True, "the value as a decimal"),
    ),
    *_group(
        "Compute 14 \u00d7 6 + 23.",
        ("107", r"\boxed{14 \times 6 + 23}", False, "the question copied"),
        ("107", r"\boxed{84 + 23}", False, "half done"),
        ("107", r"\boxed{107}", True, "the value"),
    ),
    *_group(
        "Working from left to right, what is 144 ÷ 12 \u00d7 5?",
        ("60", r"\boxed{144 \div 12 \times 5}", False, "the question copied"),
        ("60", r"\boxed{12 \times 5}", False, "half done"),
        ("60", r"\boxed{60}", True, "the value"),
    ),
    *_group(
        "What is 2^{10}?",
        ("1024", r"\boxed{2^{10}}", False, "the power copied"),
        ("1024", r"\boxed{1024}", True, "the value"),
        ("1024", r"\boxed{1{,}024}", True, "the value with a separator"),
    ),
    *_group(
        "What is 15% of 80?",
        ("12", r"\boxed{0.15 \times 80}", False, "the product left undone"),
        ("12", r"\boxed{12}", True, "the value"),
    ),
    *_group(
        "What is 7 squared minus 3?",
        ("46", r"\boxed{7^2 - 3}", False, "the question in symbols"),
        ("46", r"\boxed{49 - 3}", False, "half done"),
        ("46", r"\boxed{46}", True, "the value"),
    ),
    *_group(
        "What is 1/2 + 1/3?",
        ("\\frac{5}{6}", r"\boxed{\frac{1}{2} + \frac{1}{3}}", False, "the question copied"),
        ("\\frac{5}{6}", r"\boxed{\frac{3}{6}+\frac{2}{6}}", False, "half done"),
        ("\\frac{5}{6}", r"\boxed{\frac{5}{6}}", True, "the value"),
    ),
    *_group(
        "Simplify \\sqrt{12}.",
        ("2\\sqrt{3}", r"\boxed{\sqrt{12}}", False, "the question copied"),
        ("2\\sqrt{3}", r"\boxed{2\sqrt{3}}", True, "the simplest radical form"),
        ("2\\sqrt{3}", r"\boxed{2 \cdot \sqrt{3}}", True, "an explicit product"),
        ("2\\sqrt{3}", r"\boxed{\sqrt{3} \cdot 2}", True, "the factors swapped"),
    ),
    *_group(
        "Expand (x + 1)^2.",
        ("x^2+2x+1", r"\boxed{(x+1)^2}", False, "the question copied"),
        ("x^2+2x+1", r"\boxed{(x + 1)^{2}}", False, "the question copied, braces"),
        ("x^2+2x+1", r"\boxed{x^2 + 2x + 1}", True, "expanded"),
        ("x^2+2x+1", r"\boxed{1 + 2x + x^2}", True, "expanded, reordered"),
    ),
    *_group(
        "Factor x^2 + 2x + 1.",
        ("(x+1)^2", r"\boxed{(x+1)^2}", True, "factored"),
        ("(x+1)^2", r"\boxed{x^2 + 2x + 1}", False, "the question copied"),
        ("(x+1)^2", r"\boxed{(1+x)^{2}}", True, "factored, reordered"),
    ),
    *_group(
        "Rationalise the denominator of $\\frac{1}{\\sqrt{2}}$.",
        ("\\frac{\\sqrt{2}}{2}", r"\boxed{\frac{1}{\sqrt{2}}}", False, "the question copied"),
        ("\\frac{\\sqrt{2}}{2}", r"\boxed{1/\sqrt{2}}", False, "the question, slash form"),
        ("\\frac{\\sqrt{2}}{2}", r"\boxed{\frac{\sqrt{2}}{2}}", True, "rationalised"),
        ("\\frac{\\sqrt{2}}{2}", r"\boxed{\frac{1}{2}\sqrt{2}}", True, "rationalised, split"),
    ),
]

CLOSED_FORMS = [
    *_group(
        "An equilateral triangle has height 3. How long is its side?",
        ("2\\sqrt{3}", r"\boxed{2\sqrt{3}}", True, "the closed form"),
        ("2\\sqrt{3}", r"\boxed{\sqrt{12}}", True, "an equal radical, no more complicated"),
        ("2\\sqrt{3}", r"\boxed{\sqrt{3}+\sqrt{3}}", False, "a sum left undone"),
        ("2\\sqrt{3}", r"\boxed{\frac{4\sqrt{3}}{2}}", False, "a division left undone"),
        ("2\\sqrt{3}", r"\boxed{3\sqrt{2}}", False, "a different radical"),
        ("2\\sqrt{3}", r"\boxed{2\sqrt{3} \text{ units}}", True, "a unit after the radical"),
    ),
    *_group(
        "What is the area of a circle of radius \\sqrt{3}?",
        ("3\\pi", r"\boxed{3\pi}", True, "the closed form"),
        ("3\\pi", r"\boxed{\pi \cdot 3}", True, "the factors swapped"),
        ("3\\pi", r"\boxed{\pi (\sqrt{3})^2}", False, "the formula, not its value"),
        ("3\\pi", r"\boxed{9.42}", False, "a rounded decimal"),
        ("3\\pi", r"\boxed{2\pi}", False, "a wrong multiple"),
    ),
    *_group(
        "What angle, in radians, does the line y = x make with the x-axis?",
        ("\\frac{\\pi}{4}", r"\boxed{\frac{\pi}{4}}", True, "the closed form"),
        ("\\frac{\\pi}{4}", r"\boxed{0.25\pi}", True, "a decimal coefficient"),
        ("\\frac{\\pi}{4}", r"\boxed{\frac{2\pi}{8}}", False, "not reduced"),
        ("\\frac{\\pi}{4}", r"\boxed{\frac{\pi}{2}}", False, "a wrong angle"),
    ),
    *_group(
        "How many subsets does a set of 10 elements have? Leave it as a power of 2.",
        ("2^{10}", r"\boxed{2^{10}}", True, "the power"),
        ("2^{10}", r"\boxed{1024}", True, "its value is simpler still"),
        ("2^{10}", r"\boxed{2^{9}}", False, "a wrong power"),
    ),
    *_group(
        "Find the positive root of x^2 - x - 1 = 0.",
        ("\\frac{1+\\sqrt{5}}{2}", r"\boxed{\frac{1+\sqrt{5}}{2}}", True, "the closed form"),
        ("\\frac{1+\\sqrt{5}}{2}", r"\boxed{\frac{\sqrt{5}+1}{2}}", True, "reordered"),
        ("\\frac{1+\\sqrt{5}}{2}", r"\boxed{\frac{1-\sqrt{5}}{2}}", False, "the other root"),
    ),
]

BOXES = _group(
    "What is 2 + 2?",
    ("4", r"\boxed{}", False, "an empty box"),
    ("4", r"The answer is 4. \boxed{}", False, "an empty box; text outside it does not count"),
    ("4", r"\boxed{ }", False, "a box of spaces"),
    ("4", r"I will put it in \boxed{}: \boxed{4}", True, "an echoed empty box beside the answer"),
    ("4", r"first \boxed{3}, no wait, \boxed{4}", False, "two boxes, two values"),
    ("4", r"\boxed{4} or maybe \boxed{5}", False, "a hedge"),
    ("4", r"\boxed{3} \boxed{4} \boxed{5}", False, "every option boxed"),
    ("4", r"So \boxed{4}. Checking: 2 + 2 = 4, so \boxed{4}.", True, "the same box twice"),
    ("4", r"\boxed{4} and in decimals \boxed{4.0}", True, "two boxes, one value"),
    ("4", r"\boxed{\boxed{4}}", True, "a box in a box"),
    ("4", r"\fbox{4}", True, "\\fbox is a box"),
    ("4", r"The answer is \boxed{4", False, "a box left open is no box, and no final answer"),
    ("4", r"The answer is 4", True, "no box: the final answer in the text"),
    ("4", r"The answer is 4.", True, "no box, a period"),
    ("4", r"\boxed{2 + 2}", False, "the question's sum"),
)

STRUCTURES = [
    *_group(
        "Where do the lines y = x + 1 and y = 2x - 1 meet?",
        ("(2, 3)", r"\boxed{(2,3)}", True, "the point"),
        ("(2, 3)", r"\boxed{(3,2)}", False, "the coordinates swapped"),
    ),
    *_group(
        "For which x is 1 <= x < 5?",
        ("[1, 5)", r"\boxed{[1,5)}", True, "the interval"),
        ("[1, 5)", r"\boxed{(1,5)}", False, "an open end where it is closed"),
    ),
    *_group(
        "Give the line through (0, 1) with slope 2.",
        ("y = 2x + 1", r"\boxed{y=2x+1}", True, "the equation"),
        ("y = 2x + 1", r"\boxed{y = 1 + 2x}", True, "reordered"),
        ("y = 2x + 1", r"\boxed{y = 2x - 1}", False, "a wrong intercept"),
    ),
    *_group(
        "Solve x + 1 > 4.",
        ("x > 3", r"\boxed{x>3}", True, "the inequality"),
        ("x > 3", r"\boxed{3 < x}", True, "the inequality flipped"),
        ("x > 3", r"\boxed{x \geq 3}", False, "a closed bound"),
    ),
    *_group(
        "If 1 January is a Monday, what day is 9 January?",
        ("Tuesday", r"It falls on \boxed{\text{Tuesday}}", True, "a word answer"),
        ("Tuesday", r"\boxed{Tuesday}", True, "a bare word"),
        ("Tuesday", r"\boxed{\text{Wednesday}}", False, "the wrong day"),
    ),
    *_group(
        GENERIC,
        ("\\(\\frac{333}{1997}\\)", r"\boxed{\frac{333}{1997}}", True, "a delimited gold"),
        ("\\(\\frac{333}{1997}\\)", r"\boxed{\frac{333}{1996}}", False, "a delimited gold, wrong"),
    ),
]

AUDIT = [
    *_group(
        "What is 4 - 7?",
        ("-3", r"\boxed{(-3)}", True, "a negative number in parentheses"),
        ("-3", r"The answer is **-3**.", True, "markdown bold, no box"),
        ("-3", r"**3**", False, "markdown bold, the sign is wrong"),
    ),
    *_group(
        "What is 1 divided by -2?",
        ("-\\frac{1}{2}", r"\boxed{\frac{1}{-2}}", True, "the minus sign in the denominator"),
        ("-\\frac{1}{2}", r"\boxed{\frac{1}{-4}}", False, "a wrong denominator"),
    ),
    *_group(
        "Write 1/3 and 1/6 as decimals; give 1/6.",
        ("\\frac{1}{6}", r"\boxed{0.1\dot{6}}", True, "a repeating digit marked with a dot"),
        ("\\frac{1}{6}", r"\boxed{0.1(6)}", True, "a repeating digit in parentheses"),
        ("\\frac{1}{6}", r"\boxed{0.1(7)}", False, "the wrong repeating digit"),
    ),
    *_group(
        "Simplify $\\sqrt{8}$.",
        ("2\\sqrt{2}", r"\boxed{\sqrt 8}", False, "the question's root, spelled without braces"),
        ("2\\sqrt{2}", r"\boxed{2 \sqrt 2}", True, "the simplified root without braces"),
    ),
    *_group(
        "Compute $\\arctan 1$.",
        ("\\frac{\\pi}{4}", r"\boxed{\arctan 1}", False, "the question itself"),
        ("\\frac{\\pi}{4}", r"\boxed{\arctan(1)}", False, "the question, with parentheses"),
        ("\\frac{\\pi}{4}", r"\boxed{\tan^{-1} 1}", False, "the question, respelled"),
        ("\\frac{\\pi}{4}", r"\boxed{\pi/4}", True, "the value"),
    ),
    *_group(
        "Compute $\\sin 60^\\circ$.",
        ("\\frac{\\sqrt{3}}{2}", r"\boxed{\sin\frac{\pi}{3}}", False, "the sine left unevaluated"),
        ("\\frac{\\sqrt{3}}{2}", r"\boxed{\frac{\sqrt3}{2}}", True, "the value"),
    ),
    *_group(
        "Solve $3 - x > 1$.",
        ("(-\\infty, 2)", r"\boxed{x < 2}", True, "the interval as an inequality"),
        ("(-\\infty, 2)", r"\boxed{x \le 2}", False, "a closed end where it is open"),
        ("(-\\infty, 2)", r"\boxed{x > 2}", False, "the inequality reversed"),
    ),
    *_group(
        "Solve $2 \\le 2x < 10$.",
        ("[1, 5)", r"\boxed{1 \le x < 5}", True, "the interval as a double inequality"),
        ("[1, 5)", r"\boxed{1 < x < 5}", False, "an open end where it is closed"),
    ),
    *_group(
        "How many ways can 4 books be ordered on a shelf?",
        ("24", r"\boxed{4!}", False, "the factorial left unevaluated"),
    ),
    *_group(
        "Solve $e^x = 2$.",
        ("\\ln 2", r"\boxed{x = \ln 2}", True, "the logarithm the gold uses"),
        ("\\ln 2", r"\boxed{\ln 3}", False, "the wrong logarithm"),
    ),
]

CASES = [
    *ORDINARY,
    *REPEATING_DECIMALS,
    *UNITS,
    *THOUSANDS,
    *WORDS,
    *RESTATED,
    *CLOSED_FORMS,
    *BOXES,
    *STRUCTURES,
    *AUDIT,
]
