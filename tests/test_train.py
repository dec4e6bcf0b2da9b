"""`train` on a tiny hand-written set: it builds a loadable, deterministic model that learns."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys

import pytest

from classifier.data import CorpusRow, DataError, Example, ExtraRow, read_extra
from classifier.model import MODEL_NAME, ReviewClassifier
from classifier.model_card import render_model_card
from classifier.train import train

pytestmark = pytest.mark.slow  # trains two models

PRAISE = ["质量很好，很满意", "非常喜欢，推荐购买", "物美价廉，好评", "东西不错，下次还来", "包装精美，很漂亮",
          "味道很好，孩子爱吃", "用着很顺手，满意", "很好用，值得购买", "颜色很正，喜欢", "做工精细，赞"]
COMPLAINTS = {
    "logistics": ["快递太慢了，等了一个星期", "物流太慢，差评", "送货员态度恶劣", "快递不送上门", "外包装压坏了",
                  "发货太慢了，催了好几次", "等了十天才到货", "物流慢得要死"],
    "defect": ["用了三天就坏了", "屏幕有坏点", "洗发水漏液了", "衣服掉色严重", "水果烂了一半", "开机就死机",
               "质量太差，一用就坏", "裤子开线了"],
    "description_mismatch": ["色差太大，和图片不一样", "发错货了", "尺码不标准，偏小", "说好的赠品没有", "是假货，不是正品",
                             "与描述不符", "少发了一件", "实物和图片差太多"],
    "other": ["客服不理人", "刚买就降价，不开心", "太贵了，不值", "不好吃", "垃圾，差评", "反应慢，一般般",
              "态度太差了", "价格太高"],
}


def tiny_data() -> tuple[list[CorpusRow], dict[int, frozenset[str]], list[Example]]:
    rows: list[CorpusRow] = []
    labels: dict[int, frozenset[str]] = {}
    for suffix in ("", "！", "。"):
        for text in PRAISE:
            rows.append(CorpusRow(len(rows), "测试", True, text + suffix))
            labels[rows[-1].row] = frozenset()
        for cause, texts in COMPLAINTS.items():
            for text in texts:
                rows.append(CorpusRow(len(rows), "测试", False, text + suffix))
                labels[rows[-1].row] = frozenset({cause})
    own = [Example("外卖送得太慢，饭都凉了", True, frozenset({"logistics"}), "own", "food_delivery"),
           Example("很好吃，送餐也快", False, frozenset(), "own", "food_delivery")]
    return rows, labels, own


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    rows, labels, own = tiny_data()
    first = tmp_path_factory.mktemp("model-a")
    second = tmp_path_factory.mktemp("model-b")
    meta = train(first, rows, labels, own, second_pass={}, train_only=frozenset(), probe=[], log=lambda _msg: None)
    train(second, rows, labels, own, second_pass={}, train_only=frozenset(), probe=[], log=lambda _msg: None)
    return first, second, meta


@pytest.mark.slow
def test_training_is_deterministic(trained) -> None:
    first, second, _ = trained
    digest = [hashlib.sha256((d / f"{MODEL_NAME}.npz").read_bytes()).hexdigest() for d in (first, second)]
    assert digest[0] == digest[1]


@pytest.mark.slow
def test_trained_model_loads_and_names_its_version(trained) -> None:
    first, _, meta = trained
    model = ReviewClassifier.load(first)
    assert model.version == meta["version"]
    assert meta["version"].startswith("rc-")


@pytest.mark.slow
def test_trained_model_learns_sentiment(trained) -> None:
    model = ReviewClassifier.load(trained[0])
    assert model.predict("质量很好，很满意").sentiment == "positive"
    assert model.predict("快递太慢了，差评").sentiment == "negative"


@pytest.mark.slow
def test_trained_model_learns_causes(trained) -> None:
    model = ReviewClassifier.load(trained[0])
    assert "logistics" in model.predict("物流太慢了").causes
    assert "description_mismatch" in model.predict("发错货了，色差也大").causes


@pytest.mark.slow
def test_metadata_records_figures_and_the_model_card_renders(trained) -> None:
    meta = trained[2]
    assert set(meta["figures"]) >= {"sentiment", "causes"}
    card = render_model_card(meta)
    assert meta["version"] in card
    assert "macro F1" in card


# --- agents' corrections: `train --extra FILE` ----------------------------------------------------
# A word the tiny corpus never contains; only the extra rows can teach it.
NEW_WORD = "咕噜坏"


def write_extra(path, rows) -> None:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")


def test_extra_file_rows_are_read_with_unknown_parts_left_out(tmp_path) -> None:
    path = tmp_path / "corrections.jsonl"
    write_extra(path, [
        {"text": "发错货了", "sentiment": "negative", "causes": ["description_mismatch"]},
        {"text": "很好", "sentiment": "positive", "causes": None},
        {"text": "物流慢", "sentiment": None, "causes": ["logistics"]},
        {"text": "什么也没标", "sentiment": None, "causes": None},
    ])
    assert read_extra(path) == [
        ExtraRow("发错货了", True, frozenset({"description_mismatch"})),
        ExtraRow("很好", False, None),
        ExtraRow("物流慢", None, frozenset({"logistics"})),
    ]


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ({"sentiment": "negative"}, "non-empty \"text\""),
        ({"text": "x", "sentiment": "bad"}, "\"sentiment\" must be"),
        ({"text": "x", "causes": ["weather"]}, "unknown cause"),
        ({"text": "x", "causes": "logistics"}, "list of cause names"),
        ({"text": "x", "causes": ["other", "defect"]}, "'other' cannot be combined"),
    ],
)
def test_bad_extra_rows_are_refused_with_their_line(tmp_path, row, message: str) -> None:
    path = tmp_path / "bad.jsonl"
    write_extra(path, [{"text": "好", "sentiment": "positive", "causes": []}, row])
    with pytest.raises(DataError, match=message) as info:
        read_extra(path)
    assert ":2:" in str(info.value)


def test_train_cli_reports_a_bad_extra_file(tmp_path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text("not json\n", encoding="utf-8")
    result = subprocess.run([sys.executable, "-m", "classifier", "train", "--extra", str(path), "--output",
                             str(tmp_path / "out")], capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 2
    assert "bad.jsonl:1: not JSON" in result.stderr


@pytest.mark.slow
def test_extra_rows_train_sentiment_and_causes(tmp_path) -> None:
    rows, labels, own = tiny_data()
    extra = [ExtraRow(f"{NEW_WORD}{suffix}", True, frozenset({"defect"})) for suffix in ("", "了", "啊", "呀", "!")]
    train(tmp_path, rows, labels, own, second_pass={}, train_only=frozenset(), probe=[], extra=extra,
          log=lambda _msg: None)
    model = ReviewClassifier.load(tmp_path)
    p = model.predict(NEW_WORD)
    assert p.sentiment == "negative"
    assert "defect" in p.causes
    assert model.meta["training"]["extra_rows"] == len(extra)
