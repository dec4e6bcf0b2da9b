"""Demo data for a fresh database: hand-written reviews and a supervisor login for `make run`.

Only a database with no reviews and no agents is touched, so real data is never mixed with demo
data. The reviews go through `triage.ingest` like any webhook delivery and are scored by the
workers. The demo password is random, kept in var/demo_login (mode 0600) so later starts can
print it again, and stops being printed once the agent is gone.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import secrets
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from triage.timeutil import utcnow

__all__ = ["DEMO_REVIEWS", "DEMO_USERNAME", "DemoLogin", "demo_reviews", "load_demo"]

DEMO_USERNAME = "demo"
DEMO_ROLE = "supervisor"
_LOGIN_FILE = "demo_login"

# (platform, customer, name, ltv, product, product name, category, rating, days ago, text)
DEMO_REVIEWS: tuple[tuple[str, str, str, float | None, str, str, str, int | None, float, str], ...] = (
    ("taobao", "tb-1001", "王女士", 18600.0, "sku-kettle", "304不锈钢电热水壶1.7L", "家用电器", 1, 0.2,
     "用了三天底座就不加热了，插上电一点反应都没有，这质量也太差了，要求退货！"),
    ("taobao", "tb-1001", "王女士", 18600.0, "sku-rice", "智能电饭煲4L", "家用电器", 2, 6,
     "电饭煲内胆涂层第二次用就掉了，煮出来的饭有黑点，不敢再用。"),
    ("jd", "jd-2001", "李先生", 520.0, "sku-earbuds", "降噪蓝牙耳机Pro", "数码配件", 5, 1,
     "音质很好，降噪效果明显，地铁上基本听不到噪音，续航也够一天，推荐！"),
    ("jd", "jd-2002", "陈先生", 9400.0, "sku-earbuds", "降噪蓝牙耳机Pro", "数码配件", 4, 0.5,
     "耳机本身还行，但是快递整整拖了八天才到，问客服一直说在路上，体验很差。"),
    ("pinduoduo", "pdd-3001", "小张", 80.0, "sku-tshirt", "纯棉宽松短袖T恤", "服装", 1, 2,
     "图片上是纯棉，到手摸着像化纤，洗一次就缩水变形，和描述根本不是一个东西。"),
    ("pinduoduo", "pdd-3002", "赵阿姨", 150.0, "sku-mop", "免手洗平板拖把", "家居日用", 5, 3,
     "拖把很好用，挤水方便，老人也会用，价格实惠。"),
    ("douyin", "dy-4001", "刘小姐", 2300.0, "sku-serum", "玻尿酸保湿精华30ml", "美妆个护", 5, 0.1,
     "五星是给主播的，东西收到瓶子是漏的，半瓶都洒在盒子里了，希望商家处理一下。"),
    ("douyin", "dy-4002", "孙女士", 640.0, "sku-serum", "玻尿酸保湿精华30ml", "美妆个护", 5, 4,
     "用了一周皮肤水润了很多，质地清爽不黏腻，会回购。"),
    ("taobao", "tb-1002", "周先生", 35000.0, "sku-chair", "人体工学电脑椅", "家具", 2, 1.5,
     "椅子扶手装上去就是歪的，螺丝孔对不齐，气压杆还有异响，几千块买了个这个，很失望。"),
    ("taobao", "tb-1003", "吴同学", 260.0, "sku-lamp", "LED护眼台灯", "家用电器", 4, 2.5,
     "灯光柔和不刺眼，就是发货有点慢，等了五天。"),
    ("jd", "jd-2003", "郑女士", 12800.0, "sku-airfryer", "无油空气炸锅5.5L", "厨房电器", 1, 0.3,
     "收到就是坏的，通电后一直报E2错误，联系客服两天了没人回复，非常生气！"),
    ("jd", "jd-2003", "郑女士", 12800.0, "sku-pan", "不粘炒锅32cm", "厨具", 3, 9,
     "锅还可以，但是送来的尺寸是28的不是32的，和订单不一致。"),
    ("pinduoduo", "pdd-3003", "钱先生", 45.0, "sku-cable", "快充数据线三合一", "数码配件", 1, 1,
     "充了两天就接触不良，一动就断开，白买了。"),
    ("pinduoduo", "pdd-3004", "冯女士", 90.0, "sku-towel", "纯棉加厚毛巾4条装", "家居日用", 5, 5,
     "毛巾很厚实，吸水性好，没有掉毛，很满意。"),
    ("douyin", "dy-4003", "陈小姐", 5200.0, "sku-dress", "法式碎花连衣裙", "服装", 4, 0.8,
     "裙子款式挺好看的，可惜颜色跟直播间看到的差太多了，实物偏黄，有点失望。"),
    ("douyin", "dy-4004", "褚先生", 300.0, "sku-snack", "坚果大礼包1.5kg", "食品", 5, 2,
     "坚果很新鲜，包装也精美，送人很有面子。"),
    ("taobao", "tb-1004", "卫女士", 1500.0, "sku-bedding", "全棉四件套1.8m", "家纺", 2, 3.5,
     "四件套有很重的异味，洗了两遍还有，而且被套的线头特别多。"),
    ("taobao", "tb-1005", "蒋先生", 700.0, "sku-kettle", "304不锈钢电热水壶1.7L", "家用电器", 5, 7,
     "烧水很快，做工扎实，没有塑料味，好评。"),
    ("jd", "jd-2004", "沈女士", 21000.0, "sku-phonecase", "磁吸手机壳", "数码配件", 5, 1.2,
     "好评吧，但说实话快递员直接扔在门口，包装盒都压扁了，下次希望送货上门。"),
    ("jd", "jd-2005", "韩先生", 880.0, "sku-monitor", "27英寸4K显示器", "电脑办公", 1, 0.4,
     "屏幕有两个坏点，左下角还有漏光，申请换货客服推三阻四，强烈不推荐。"),
    ("jd", "jd-2005", "韩先生", 880.0, "sku-keyboard", "机械键盘青轴", "电脑办公", 2, 12,
     "键盘用了一个月空格键就卡住了，按下去弹不起来。"),
    ("pinduoduo", "pdd-3005", "杨女士", 60.0, "sku-socks", "男士中筒袜10双装", "服装", 3, 4,
     "袜子一般般，比较薄，这个价格也就这样了。"),
    ("douyin", "dy-4005", "朱小姐", 3100.0, "sku-lipstick", "丝绒雾面口红", "美妆个护", 1, 0.6,
     "收到的色号和下单的不一样，我要的是豆沙色，发来的是正红色，拆封了还不给退！"),
    ("douyin", "dy-4005", "朱小姐", 3100.0, "sku-mask", "补水面膜20片", "美妆个护", 2, 15,
     "面膜敷完脸上发红发痒，过敏了，不知道是不是批次有问题。"),
    ("taobao", "tb-1006", "秦先生", 230.0, "sku-backpack", "防泼水通勤双肩包", "箱包", 5, 2,
     "背着很舒服，电脑隔层很实用，做工精细，推荐。"),
    ("taobao", "tb-1007", "尤女士", 27000.0, "sku-purifier", "空气净化器除甲醛", "家用电器", 4, 0.9,
     "净化器效果不错，不过物流太慢了，同城居然走了一个星期，客服也催不动。"),
    ("jd", "jd-2006", "许先生", 410.0, "sku-shaver", "电动剃须刀", "个护电器", 5, 3,
     "刮得很干净，声音小，充一次电能用很久。"),
    ("jd", "jd-2007", "何女士", 7600.0, "sku-stroller", "轻便折叠婴儿推车", "母婴", 1, 0.25,
     "推车的刹车是坏的，差点出事！这种安全问题太严重了，必须给个说法。"),
    ("pinduoduo", "pdd-3006", "吕先生", 30.0, "sku-phonefilm", "钢化膜2片装", "数码配件", 4, 6,
     "膜贴上去还行，有一片边缘翘起来了，凑合用吧。"),
    ("pinduoduo", "pdd-3007", "施女士", 120.0, "sku-slippers", "EVA防滑拖鞋", "鞋靴", 5, 1,
     "穿着很软很舒服，浴室里也不打滑，给家里人都买了。"),
    ("douyin", "dy-4006", "张先生", 980.0, "sku-tea", "明前龙井250g", "食品", 2, 2,
     "说是明前龙井，泡出来一股陈味，跟直播间说的完全不是一个档次，感觉被骗了。"),
    ("douyin", "dy-4007", "孔女士", 450.0, "sku-scarf", "羊绒围巾", "服装", 5, 8,
     "围巾手感软糯，颜色很正，很暖和。"),
    ("taobao", "tb-1008", "曹先生", None, "sku-tent", "户外露营帐篷3-4人", "户外运动", 3, 1.8,
     "帐篷搭起来还行，但少发了两根地钉，联系客服补发到现在还没收到。"),
    ("taobao", "tb-1008", "曹先生", None, "sku-lantern", "露营灯充电款", "户外运动", 1, 0.7,
     "又是你家，灯用了一晚上就充不进电了，上次地钉的事也没解决，太失望了。"),
    ("jd", "jd-2008", "严女士", 15500.0, "sku-blender", "破壁料理机", "厨房电器", 5, 2.2,
     "打豆浆很细腻，噪音比想象中小，清洗也方便。"),
    ("jd", "jd-2009", "华先生", 330.0, "sku-watch", "智能运动手表", "数码配件", 4, 0.15,
     "手表功能挺多的，就是心率测得不准，跑步时候数据乱跳，和宣传的专业级差距很大。"),
    ("pinduoduo", "pdd-3008", "金阿姨", 55.0, "sku-rice", "东北大米10斤", "食品", 1, 3,
     "米里面有虫子！还有很多碎米，这也太不讲究了。"),
    ("douyin", "dy-4008", "魏小姐", 1900.0, "sku-bag", "真皮托特包", "箱包", 5, 1.1,
     "包包很大气，皮质柔软，通勤装电脑刚好，非常喜欢。"),
    ("taobao", "tb-1009", "陶先生", 640.0, "sku-shoes", "缓震跑步鞋", "鞋靴", 2, 0.9,
     "鞋码偏小一码，按平时尺码买的挤脚，详情页也没写要买大一码。"),
    ("jd", "jd-2010", "姜女士", 2800.0, "sku-vacuum", "无线手持吸尘器", "家用电器", None, 0.5,
     "吸力不错，但是电池续航只有十分钟，跟宣传的四十分钟差太多了。"),
)


@dataclass(frozen=True)
class DemoLogin:
    username: str
    password: str
    role: str


def demo_reviews(now: dt.datetime | None = None) -> list[dict]:
    """The demo reviews as webhook review objects, their times relative to `now`."""
    now = now or utcnow()
    out = []
    for i, (platform, customer, name, ltv, product, product_name, category, rating, days, text) in enumerate(
        DEMO_REVIEWS, start=1
    ):
        review = {
            "review_id": f"demo-{i:03d}",
            "platform": platform,
            "text": text,
            "customer_id": customer,
            "customer_name": name,
            "product_id": product,
            "product_name": product_name,
            "category": category,
            "order_id": f"demo-order-{i:03d}",
            "created_at": (now - dt.timedelta(days=days)).isoformat(timespec="seconds"),
        }
        if rating is not None:
            review["rating"] = rating
        if ltv is not None:
            review["customer_ltv"] = ltv
        out.append(review)
    return out


def _is_fresh(conn: sqlite3.Connection) -> bool:
    return (conn.execute("SELECT COUNT(*) FROM reviews").fetchone()[0] == 0
            and conn.execute("SELECT COUNT(*) FROM agents").fetchone()[0] == 0)


def _saved_login(conn: sqlite3.Connection, var_dir: Path) -> DemoLogin | None:
    path = var_dir / _LOGIN_FILE
    if not path.exists():
        return None
    try:
        login = DemoLogin(**json.loads(path.read_text("utf-8")))
    except (ValueError, TypeError):
        return None
    found = conn.execute("SELECT 1 FROM agents WHERE username = ? AND active = 1", (login.username,)).fetchone()
    return login if found else None


def load_demo(conn: sqlite3.Connection, var_dir: Path | str, now: dt.datetime | None = None) -> DemoLogin | None:
    """Fill a fresh database with the demo reviews and agent; the demo login (also on later
    starts, while the demo agent exists), or None."""
    from triage.agents import add_agent
    from triage.ingest import ingest
    from triage.validation import validate_batch

    var_dir = Path(var_dir)
    if not _is_fresh(conn):
        return _saved_login(conn, var_dir)
    now = now or utcnow()
    ingest(conn, validate_batch(demo_reviews(now)), now)
    login = DemoLogin(DEMO_USERNAME, secrets.token_urlsafe(9), DEMO_ROLE)
    add_agent(conn, login.username, login.password, login.role, display_name="演示主管")
    var_dir.mkdir(parents=True, exist_ok=True)
    path = var_dir / _LOGIN_FILE
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(login.__dict__, fh)
    return login
