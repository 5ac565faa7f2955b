"""What ``manage.py seed_demo`` loads: the demo chain, its cities, menu and option groups,
the canteen brand and the demo logins. Plain data only; the command turns it into rows.

Every row is keyed by a natural code (brand, store, category, dish, option group code,
phone), so that the command can tell what already exists. Prices and nutrition are
strings and become ``Decimal``; energy (kcal) is derived from the macronutrients.
"""

from dataclasses import dataclass, field
from decimal import Decimal

from accounts.models import Role

SEED = 20260101
DEMO_PASSWORD = "demo-Pass-2026"  # noqa: S105 - printed by the command; for the demo only

@dataclass(frozen=True)
class City:
    prefix: str  # store codes are <prefix>001, <prefix>002, ...
    name: str
    latitude: str  # city centre
    longitude: str
    area_code: str
    stores: int  # how many chain stores the full demo has here
    # (district, street) pairs the stores are spread over
    locations: tuple[tuple[str, str], ...]
    # approximate centre of each district (latitude, longitude); stores sit within ~1.5 km
    districts: dict[str, tuple[str, str]] = field(default_factory=dict)


CITIES = [
    City("SH", "上海", "31.230416", "121.473701", "021", 45, (
        ("黄浦区", "南京东路"), ("徐汇区", "漕溪北路"), ("静安区", "南京西路"), ("浦东新区", "世纪大道"),
        ("长宁区", "长宁路"), ("杨浦区", "淞沪路"), ("闵行区", "七莘路"), ("普陀区", "长寿路"),
        ("黄浦区", "淮海中路"), ("徐汇区", "天钥桥路"), ("静安区", "江宁路"), ("浦东新区", "张杨路"),
        ("长宁区", "虹桥路"), ("杨浦区", "国定路"), ("虹口区", "四川北路"), ("浦东新区", "陆家嘴环路"),
        ("闵行区", "虹井路"), ("宝山区", "牡丹江路"),
    ), {
        "黄浦区": ("31.231700", "121.484600"),
        "徐汇区": ("31.188500", "121.436500"),
        "静安区": ("31.229000", "121.455000"),
        "浦东新区": ("31.233000", "121.525000"),
        "长宁区": ("31.220400", "121.424500"),
        "杨浦区": ("31.300000", "121.514000"),
        "闵行区": ("31.112000", "121.381000"),
        "普陀区": ("31.249000", "121.397000"),
        "虹口区": ("31.264600", "121.480000"),
        "宝山区": ("31.405000", "121.489000"),
    }),
    City("BJ", "北京", "39.904200", "116.407396", "010", 40, (
        ("朝阳区", "建国路"), ("海淀区", "中关村大街"), ("东城区", "王府井大街"), ("西城区", "西单北大街"),
        ("朝阳区", "三里屯路"), ("海淀区", "学院路"), ("丰台区", "丽泽路"), ("通州区", "新华大街"),
        ("朝阳区", "望京街"), ("东城区", "东直门内大街"), ("西城区", "金融大街"), ("海淀区", "五道口成府路"),
        ("昌平区", "回龙观西大街"), ("大兴区", "黄村西大街"),
    ), {
        "朝阳区": ("39.921500", "116.443500"),
        "海淀区": ("39.983000", "116.310000"),
        "东城区": ("39.928500", "116.416000"),
        "西城区": ("39.912000", "116.366000"),
        "丰台区": ("39.865000", "116.287000"),
        "通州区": ("39.910000", "116.657000"),
        "昌平区": ("40.070000", "116.330000"),
        "大兴区": ("39.727000", "116.341000"),
    }),
    City("GZ", "广州", "23.129110", "113.264385", "020", 30, (
        ("天河区", "天河路"), ("越秀区", "北京路"), ("海珠区", "江南大道中"), ("天河区", "体育西路"),
        ("越秀区", "中山五路"), ("荔湾区", "上下九路"), ("海珠区", "新港中路"), ("番禺区", "繁华路"),
        ("天河区", "花城大道"), ("白云区", "白云大道北"), ("黄埔区", "开创大道"),
    ), {
        "天河区": ("23.135000", "113.330000"),
        "越秀区": ("23.129000", "113.267000"),
        "海珠区": ("23.100000", "113.300000"),
        "荔湾区": ("23.125000", "113.244000"),
        "番禺区": ("22.938000", "113.384000"),
        "白云区": ("23.160000", "113.273000"),
        "黄埔区": ("23.183000", "113.480000"),
    }),
    City("SZ", "深圳", "22.543096", "114.057865", "0755", 30, (
        ("福田区", "深南大道"), ("南山区", "科苑路"), ("罗湖区", "东门中路"), ("福田区", "华强北路"),
        ("南山区", "海德三道"), ("宝安区", "创业一路"), ("龙岗区", "龙岗大道"), ("罗湖区", "人民南路"),
        ("龙华区", "民治大道"), ("南山区", "蛇口望海路"), ("福田区", "车公庙泰然九路"),
    ), {
        "福田区": ("22.541000", "114.055000"),
        "南山区": ("22.533000", "113.930000"),
        "罗湖区": ("22.548000", "114.131000"),
        "宝安区": ("22.555000", "113.883000"),
        "龙岗区": ("22.720000", "114.247000"),
        "龙华区": ("22.654000", "114.029000"),
    }),
    City("HZ", "杭州", "30.274085", "120.155070", "0571", 25, (
        ("西湖区", "文三路"), ("上城区", "延安路"), ("拱墅区", "湖墅南路"), ("滨江区", "江南大道"),
        ("余杭区", "文一西路"), ("西湖区", "天目山路"), ("上城区", "解放路"), ("萧山区", "市心中路"),
        ("钱塘区", "学林街"),
    ), {
        "西湖区": ("30.274000", "120.130000"),
        "上城区": ("30.250000", "120.170000"),
        "拱墅区": ("30.319000", "120.142000"),
        "滨江区": ("30.208000", "120.211000"),
        "余杭区": ("30.287000", "120.015000"),
        "萧山区": ("30.163000", "120.264000"),
        "钱塘区": ("30.310000", "120.350000"),
    }),
    City("CD", "成都", "30.572815", "104.066801", "028", 20, (
        ("锦江区", "春熙路"), ("武侯区", "科华北路"), ("青羊区", "长顺街"), ("高新区", "天府大道"),
        ("成华区", "建设路"), ("锦江区", "红星路"), ("武侯区", "人民南路四段"), ("高新区", "天府三街"),
    ), {
        "锦江区": ("30.657000", "104.083000"),
        "武侯区": ("30.642000", "104.043000"),
        "青羊区": ("30.674000", "104.062000"),
        "高新区": ("30.580000", "104.065000"),
        "成华区": ("30.660000", "104.103000"),
    }),
    City("NJ", "南京", "32.060255", "118.796877", "025", 10, (
        ("玄武区", "珠江路"), ("秦淮区", "贡院街"), ("鼓楼区", "湖南路"), ("建邺区", "江东中路"),
        ("江宁区", "双龙大道"),
    ), {
        "玄武区": ("32.048000", "118.797000"),
        "秦淮区": ("32.022000", "118.795000"),
        "鼓楼区": ("32.066000", "118.770000"),
        "建邺区": ("32.003000", "118.732000"),
        "江宁区": ("31.953000", "118.840000"),
    }),
]
DEFAULT_STORES = sum(city.stores for city in CITIES)  # 200


@dataclass(frozen=True)
class OptionGroupDef:
    code: str
    name_zh: str
    name_en: str
    min_choices: int
    max_choices: int
    # (name_zh, name_en, price_delta, is_default)
    options: tuple[tuple[str, str, str, bool], ...]


@dataclass(frozen=True)
class DishDef:
    code: str
    name_zh: str
    name_en: str
    description_zh: str
    description_en: str
    price: str
    protein_g: str
    fat_g: str
    carbs_g: str
    tags: tuple[str, ...] = ()
    allergens: tuple[str, ...] = ()
    option_groups: tuple[str, ...] = ()
    is_set_meal: bool = False

    @property
    def kcal(self) -> int:
        energy = 4 * Decimal(self.protein_g) + 9 * Decimal(self.fat_g) + 4 * Decimal(self.carbs_g)
        return int(energy.quantize(Decimal("1")))


@dataclass(frozen=True)
class CategoryDef:
    code: str
    name_zh: str
    name_en: str
    dishes: tuple[DishDef, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class BrandDef:
    code: str
    name: str
    kind: str
    option_groups: tuple[OptionGroupDef, ...]
    categories: tuple[CategoryDef, ...]


D = DishDef

CHAIN_OPTION_GROUPS = (
    OptionGroupDef("spice", "辣度", "Spice level", 1, 1, (
        ("不辣", "Not spicy", "0.00", False), ("微辣", "Mild", "0.00", True),
        ("中辣", "Medium", "0.00", False), ("特辣", "Extra hot", "0.00", False),
    )),
    OptionGroupDef("size", "规格", "Size", 1, 1, (
        ("小份", "Regular", "0.00", True), ("大份", "Large", "4.00", False),
    )),
    OptionGroupDef("rice", "饭量", "Rice", 1, 1, (
        ("少饭", "Less rice", "0.00", False), ("正常", "Regular", "0.00", True),
        ("加饭", "Extra rice", "2.00", False),
    )),
    OptionGroupDef("sweetness", "甜度", "Sweetness", 1, 1, (
        ("无糖", "No sugar", "0.00", False), ("三分糖", "30% sugar", "0.00", False),
        ("五分糖", "50% sugar", "0.00", True), ("全糖", "Full sugar", "0.00", False),
    )),
    OptionGroupDef("temperature", "温度", "Ice / hot", 1, 1, (
        ("去冰", "No ice", "0.00", False), ("少冰", "Less ice", "0.00", False),
        ("正常冰", "Regular ice", "0.00", True), ("热", "Hot", "0.00", False),
    )),
    OptionGroupDef("toppings", "加料", "Toppings", 0, 3, (
        ("卤蛋", "Braised egg", "3.00", False), ("煎蛋", "Fried egg", "3.00", False),
        ("肥牛", "Beef slices", "8.00", False), ("腊肉", "Cured pork", "6.00", False),
        ("青菜", "Greens", "2.00", False), ("豆皮", "Tofu skin", "3.00", False),
    )),
)

CHAIN_CATEGORIES = (
    CategoryDef("signature", "招牌菜", "Signature dishes", (
        D("SIG01", "辣椒炒肉", "Stir-fried pork with green chillies",
          "湘味小馆招牌，现切五花肉与本地青椒大火爆炒，锅气十足。",
          "Our signature: pork belly wok-fried with fresh green chillies.",
          "38.00", "24", "32", "10", ("signature", "spicy"), ("soy",), ("spice", "size")),
        D("SIG02", "剁椒鱼头", "Steamed fish head with chopped chillies",
          "鳙鱼头铺满自制剁椒，旺火清蒸，鲜辣开胃。",
          "Bighead carp head steamed under house-made chopped chillies.",
          "68.00", "42", "22", "8", ("signature", "spicy"), ("fish", "soy"), ("spice",)),
        D("SIG03", "小炒黄牛肉", "Stir-fried yellow beef",
          "鲜切黄牛肉配小米辣、香菜快炒，嫩滑入味。",
          "Tender sliced beef flash-fried with bird's-eye chillies and coriander.",
          "52.00", "34", "20", "6", ("signature", "spicy"), ("soy",), ("spice", "size")),
        D("SIG04", "毛氏红烧肉", "Red-braised pork belly",
          "五花肉小火慢炖，甜咸适口，肥而不腻。",
          "Pork belly slow-braised with caramel and soy, rich but never greasy.",
          "48.00", "18", "38", "14", ("signature",), ("soy",), ("size",)),
        D("SIG05", "农家一碗香", "Farmhouse egg and pork stir-fry",
          "煎蛋、五花肉与青椒同炒，下饭一绝。",
          "Fried egg, pork belly and green chillies tossed together; made for rice.",
          "32.00", "20", "26", "8", ("spicy",), ("eggs", "soy"), ("spice",)),
        D("SIG06", "干锅花菜", "Griddle-pot cauliflower",
          "有机花菜配腊肉干锅煸香，焦香微辣。",
          "Cauliflower and cured pork seared in a sizzling dry pot.",
          "29.00", "9", "18", "14", ("spicy",), ("soy",), ("spice",)),
        D("SIG07", "外婆菜炒蛋", "Xiangxi pickled greens with egg",
          "湘西外婆菜与土鸡蛋同炒，咸香下饭。",
          "Xiangxi-style pickled greens scrambled with free-range eggs.",
          "26.00", "14", "16", "9", ("vegetarian",), ("eggs",), ("spice",)),
        D("SIG08", "长沙口味虾", "Changsha spicy crayfish",
          "鲜活小龙虾加紫苏、辣椒焖煮，夏季限定。",
          "Live crayfish braised with perilla and chillies; a summer special.",
          "58.00", "30", "18", "10", ("signature", "spicy", "new"), ("crustaceans", "soy"), ("spice", "size")),
    )),
    CategoryDef("rice_sets", "米饭套餐", "Rice sets", (
        D("RICE01", "辣椒炒肉套餐", "Chilli pork rice set",
          "辣椒炒肉、米饭、时蔬和例汤，一人食刚刚好。",
          "Chilli pork, rice, seasonal greens and the soup of the day.",
          "32.00", "30", "30", "95", ("signature", "spicy"), ("soy",), ("spice", "rice"), True),
        D("RICE02", "红烧肉套餐", "Red-braised pork rice set",
          "招牌红烧肉配米饭、时蔬和例汤。",
          "Red-braised pork belly with rice, greens and soup.",
          "34.00", "24", "36", "98", (), ("soy",), ("rice",), True),
        D("RICE03", "小炒黄牛肉套餐", "Beef stir-fry rice set",
          "小炒黄牛肉配米饭、时蔬和例汤。",
          "Stir-fried yellow beef with rice, greens and soup.",
          "38.00", "38", "22", "92", ("spicy",), ("soy",), ("spice", "rice"), True),
        D("RICE04", "宫保鸡丁套餐", "Kung Pao chicken rice set",
          "宫保鸡丁配米饭、时蔬和例汤，花生香脆。",
          "Kung Pao chicken with peanuts, rice, greens and soup.",
          "29.00", "32", "20", "96", ("spicy",), ("peanuts", "soy"), ("spice", "rice"), True),
        D("RICE05", "番茄炒蛋套餐", "Tomato and egg rice set",
          "番茄炒蛋配米饭、时蔬和例汤，酸甜家常味。",
          "Tomato scrambled eggs with rice, greens and soup; a home classic.",
          "22.00", "16", "14", "92", ("vegetarian",), ("eggs",), ("rice",), True),
        D("RICE06", "香菇滑鸡套餐", "Mushroom chicken rice set",
          "香菇蒸滑鸡配米饭、时蔬和例汤，少油少盐。",
          "Steamed chicken with shiitake, rice, greens and soup; light on oil and salt.",
          "28.00", "30", "14", "90", ("low_salt",), ("soy",), ("rice",), True),
        D("RICE07", "梅菜扣肉套餐", "Preserved-greens pork rice set",
          "梅菜扣肉配米饭、时蔬和例汤。",
          "Pork belly steamed over preserved mustard greens, with rice, greens and soup.",
          "33.00", "22", "34", "96", (), ("soy",), ("rice",), True),
        D("RICE08", "双拼套餐", "Two-dish combo rice set",
          "辣椒炒肉与农家一碗香双拼，配米饭和例汤。",
          "Chilli pork and farmhouse egg stir-fry side by side, with rice and soup.",
          "36.00", "34", "30", "100", ("spicy", "new"), ("soy", "eggs"), ("spice", "rice", "toppings"), True),
    )),
    CategoryDef("noodles", "面食", "Noodles", (
        D("NDL01", "常德牛肉粉", "Changde beef rice noodles",
          "圆米粉配红烧牛肉浇头，汤头浓郁。",
          "Round rice noodles topped with braised beef in a rich broth.",
          "26.00", "26", "12", "70", ("spicy",), ("soy",), ("spice", "size", "toppings")),
        D("NDL02", "长沙肉丝粉", "Changsha shredded pork rice noodles",
          "长沙早餐经典，骨汤米粉配酸豆角肉丝。",
          "Changsha breakfast classic: rice noodles in bone broth with pork and pickled beans.",
          "22.00", "18", "10", "68", (), ("soy",), ("spice", "size", "toppings")),
        D("NDL03", "红烧牛肉面", "Braised beef noodle soup",
          "手擀面配大块红烧牛腱。",
          "Hand-rolled wheat noodles with chunks of braised beef shank.",
          "28.00", "28", "14", "78", (), ("gluten", "soy"), ("spice", "size", "toppings")),
        D("NDL04", "酸辣粉", "Hot and sour sweet-potato noodles",
          "红薯粉配花生、榨菜，酸辣过瘾。",
          "Sweet-potato glass noodles with peanuts and pickles, hot and sour.",
          "18.00", "6", "10", "72", ("vegetarian", "spicy"), ("peanuts", "soy", "sesame"), ("spice", "toppings")),
        D("NDL05", "葱油拌面", "Scallion oil noodles",
          "熬香葱油拌细面，简单耐吃。",
          "Thin noodles tossed in slow-fried scallion oil.",
          "16.00", "10", "14", "74", ("vegetarian",), ("gluten", "soy"), ("size", "toppings")),
        D("NDL06", "老北京炸酱面", "Beijing zhajiang noodles",
          "黄酱肉丁炸酱配黄瓜丝、豆芽。",
          "Noodles with fried soybean-paste pork sauce, cucumber and bean sprouts.",
          "22.00", "18", "16", "80", (), ("gluten", "soy"), ("size",)),
        D("NDL07", "番茄鸡蛋面", "Tomato and egg noodle soup",
          "番茄熬汤，配嫩滑炒蛋。",
          "Tomato broth noodles with soft scrambled egg.",
          "20.00", "14", "10", "76", ("vegetarian",), ("gluten", "eggs"), ("size", "toppings")),
        D("NDL08", "兰州清汤牛肉面", "Lanzhou beef noodle soup",
          "清汤牛骨汤配手拉面，清真制作。",
          "Hand-pulled noodles in clear beef broth, prepared halal.",
          "24.00", "24", "8", "78", ("halal",), ("gluten",), ("spice", "size")),
    )),
    CategoryDef("light", "轻食沙拉", "Light meals & salads", (
        D("LGT01", "鸡胸肉藜麦沙拉", "Chicken breast quinoa salad",
          "低温慢煮鸡胸配藜麦和时令蔬菜，油醋汁另附。",
          "Sous-vide chicken breast with quinoa and seasonal leaves; dressing on the side.",
          "36.00", "32", "10", "28", ("light_meal", "low_sugar"), ("mustard",)),
        D("LGT02", "牛油果虾仁沙拉", "Avocado and shrimp salad",
          "白灼虾仁、牛油果、芝麻菜，清爽饱腹。",
          "Poached shrimp, avocado and rocket; fresh and filling.",
          "42.00", "22", "18", "16", ("light_meal", "new"), ("crustaceans", "mustard")),
        D("LGT03", "烟熏三文鱼能量碗", "Smoked salmon power bowl",
          "烟熏三文鱼、糙米、毛豆、海苔，芝麻酱汁。",
          "Smoked salmon, brown rice, edamame and nori with sesame dressing.",
          "45.00", "26", "16", "40", ("light_meal",), ("fish", "soy", "sesame")),
        D("LGT04", "豆腐糙米饭碗", "Tofu brown rice bowl",
          "香煎老豆腐、糙米、西兰花，少盐酱汁。",
          "Pan-seared tofu, brown rice and broccoli with a low-salt sauce.",
          "28.00", "18", "10", "58", ("light_meal", "vegetarian", "low_salt"), ("soy", "sesame")),
        D("LGT05", "凯撒鸡肉沙拉", "Chicken Caesar salad",
          "罗马生菜、烤鸡胸、面包丁、帕玛森芝士。",
          "Romaine, grilled chicken, croutons and Parmesan.",
          "34.00", "28", "20", "14", ("light_meal",), ("gluten", "eggs", "milk", "fish", "mustard")),
        D("LGT06", "田园蔬菜沙拉", "Garden vegetable salad",
          "生菜、芹菜、小番茄、紫甘蓝，搭配柠檬汁。",
          "Lettuce, celery, cherry tomatoes and red cabbage with lemon dressing.",
          "24.00", "5", "8", "16", ("light_meal", "vegetarian", "low_sugar", "low_salt"), ("celery",)),
        D("LGT07", "鸡胸肉卷饼", "Chicken breast wrap",
          "全麦卷饼包鸡胸肉、生菜和酸奶酱。",
          "Wholemeal wrap with chicken breast, lettuce and yoghurt sauce.",
          "26.00", "26", "9", "36", ("light_meal", "low_sugar"), ("gluten", "milk")),
    )),
    CategoryDef("snacks", "小吃", "Snacks", (
        D("SNK01", "长沙臭豆腐", "Changsha stinky tofu",
          "外酥里嫩的黑色臭豆腐，浇上辣椒蒜汁。",
          "Crisp black fermented tofu with chilli and garlic sauce.",
          "15.00", "12", "14", "10", ("vegetarian", "spicy", "signature"), ("soy",), ("spice",)),
        D("SNK02", "糖油粑粑", "Sugar-glazed glutinous rice cakes",
          "糯米粑粑裹红糖浆，外焦里糯。",
          "Glutinous rice cakes glazed with brown sugar, crisp outside and chewy inside.",
          "12.00", "3", "12", "48", ("vegetarian",), ("sesame",)),
        D("SNK03", "口味鸭脖", "Spicy braised duck necks",
          "香辣卤制鸭脖，越啃越香。",
          "Duck necks braised in a spicy master stock.",
          "22.00", "20", "14", "4", ("spicy",), ("soy",)),
        D("SNK04", "拍黄瓜", "Smashed cucumber salad",
          "蒜香拍黄瓜，爽口解腻。",
          "Smashed cucumber with garlic and vinegar; cool and crunchy.",
          "12.00", "2", "6", "6", ("vegetarian", "light_meal", "low_sugar"), ("sesame", "soy"), ("spice",)),
        D("SNK05", "香酥鸡翅", "Crispy chicken wings (4 pcs)",
          "腌制入味后酥炸，外脆里嫩。",
          "Marinated wings fried until crisp.",
          "19.00", "22", "20", "12", (), ("gluten", "eggs")),
        D("SNK06", "蒜蓉毛豆", "Garlic edamame",
          "新鲜毛豆配蒜蓉清炒。",
          "Fresh edamame stir-fried with garlic.",
          "12.00", "12", "6", "9", ("vegetarian", "low_sugar"), ("soy",)),
        D("SNK07", "手工煎饺", "Pan-fried dumplings (8 pcs)",
          "猪肉白菜馅，底部金黄酥脆。",
          "Pork and cabbage dumplings with golden crisp bottoms.",
          "18.00", "14", "16", "40", (), ("gluten", "soy", "sesame")),
        D("SNK08", "麻辣藕片", "Spicy lotus root slices",
          "脆藕片拌麻辣红油。",
          "Crunchy lotus root tossed in numbing chilli oil.",
          "14.00", "2", "6", "20", ("vegetarian", "spicy"), ("soy", "sesame"), ("spice",)),
    )),
    CategoryDef("soups", "汤品", "Soups", (
        D("SOUP01", "瓦罐鸡汤", "Clay-pot chicken soup",
          "土鸡瓦罐慢煨四小时，清淡鲜美。",
          "Free-range chicken simmered for four hours in a clay pot.",
          "18.00", "18", "10", "4", ("low_salt",)),
        D("SOUP02", "番茄蛋花汤", "Tomato and egg drop soup",
          "番茄熬汤，蛋花细嫩。",
          "Tomato broth with silky egg ribbons.",
          "10.00", "6", "5", "8", ("vegetarian",), ("eggs",)),
        D("SOUP03", "紫菜虾皮汤", "Seaweed and dried shrimp soup",
          "紫菜、虾皮、葱花，清淡家常。",
          "Laver seaweed, dried shrimp and spring onion.",
          "9.00", "5", "2", "4", (), ("crustaceans",)),
        D("SOUP04", "酸辣汤", "Hot and sour soup",
          "豆腐、木耳、蛋花，酸辣开胃。",
          "Tofu, wood-ear mushroom and egg in a hot and sour broth.",
          "12.00", "8", "6", "10", ("spicy",), ("eggs", "soy", "gluten")),
        D("SOUP05", "莲藕排骨汤", "Lotus root and pork rib soup",
          "粉藕与排骨同煲，汤色清亮。",
          "Pork ribs simmered with starchy lotus root.",
          "22.00", "16", "14", "14", ("low_salt",)),
        D("SOUP06", "菌菇豆腐汤", "Mushroom and tofu soup",
          "多种菌菇配嫩豆腐，鲜而不腻。",
          "Mixed mushrooms and silken tofu in a light broth.",
          "14.00", "9", "4", "6", ("vegetarian", "light_meal", "low_salt"), ("soy",)),
    )),
    CategoryDef("drinks", "饮品", "Drinks", (
        D("DRK01", "手打柠檬茶", "Hand-pressed lemon tea",
          "香水柠檬现打，茶香清爽。",
          "Fragrant lemons pressed into black tea to order.",
          "12.00", "0", "0", "28", ("vegetarian",), (), ("sweetness", "temperature")),
        D("DRK02", "桂花酸梅汤", "Osmanthus sour plum drink",
          "乌梅、山楂、桂花熬制，解辣消暑。",
          "Smoked plum, hawthorn and osmanthus; cools the chilli.",
          "8.00", "0", "0", "24", ("vegetarian",), (), ("sweetness", "temperature")),
        D("DRK03", "鲜榨橙汁", "Fresh orange juice",
          "当日现榨，不加水不加糖。",
          "Squeezed today; no water, no added sugar.",
          "16.00", "2", "0", "26", ("vegetarian",)),
        D("DRK04", "珍珠奶茶", "Bubble milk tea",
          "红茶配鲜奶与手煮珍珠。",
          "Black tea with fresh milk and hand-cooked tapioca pearls.",
          "14.00", "3", "8", "48", (), ("milk",), ("sweetness", "temperature")),
        D("DRK05", "现磨豆浆", "Fresh soy milk",
          "非转基因黄豆现磨。",
          "Ground to order from non-GM soybeans.",
          "6.00", "7", "4", "10", ("vegetarian",), ("soy",), ("sweetness", "temperature")),
        D("DRK06", "菊花茶", "Chrysanthemum tea",
          "杭白菊冲泡，清热降火。",
          "Hangzhou white chrysanthemum infusion.",
          "8.00", "0", "0", "4", ("vegetarian", "low_sugar"), (), ("temperature",)),
        D("DRK07", "可乐", "Cola",
          "冰镇罐装可乐 330ml。",
          "Chilled 330 ml can.",
          "6.00", "0", "0", "35", ("vegetarian",)),
        D("DRK08", "椰子水", "Coconut water",
          "100% 椰子水，无添加。",
          "100% coconut water, nothing added.",
          "12.00", "1", "0", "9", ("vegetarian", "low_sugar", "new")),
    )),
    CategoryDef("desserts", "甜品", "Desserts", (
        D("DST01", "芒果西米露", "Mango sago",
          "芒果果肉、西米、椰奶。",
          "Mango, sago pearls and coconut milk.",
          "15.00", "3", "6", "42", (), ("milk",)),
        D("DST02", "红糖糍粑", "Brown sugar rice cakes",
          "现煎糍粑淋红糖浆，撒黄豆粉。",
          "Pan-fried rice cakes with brown sugar syrup and roasted soybean flour.",
          "14.00", "3", "8", "46", ("vegetarian",), ("soy",)),
        D("DST03", "双皮奶", "Double-skin milk pudding",
          "顺德做法，奶香浓郁。",
          "Shunde-style steamed milk pudding.",
          "13.00", "8", "9", "26", (), ("milk", "eggs")),
        D("DST04", "桂花酒酿圆子", "Osmanthus rice wine dumplings",
          "小圆子配甜酒酿和桂花。",
          "Tiny glutinous dumplings in sweet fermented rice with osmanthus.",
          "12.00", "3", "1", "40", ("vegetarian",), ("eggs",)),
        D("DST05", "杨枝甘露", "Mango pomelo sago",
          "芒果、西柚、西米与椰奶。",
          "Mango, pomelo, sago and coconut milk.",
          "18.00", "3", "8", "40", ("new",), ("milk",)),
        D("DST06", "核桃芝麻糊", "Walnut and black sesame soup",
          "黑芝麻与核桃现磨熬煮。",
          "Black sesame and walnuts ground and cooked to a smooth soup.",
          "12.00", "5", "11", "30", ("vegetarian",), ("tree_nuts", "sesame")),
    )),
    CategoryDef("breakfast", "早餐", "Breakfast", (
        D("BRK01", "鲜肉包", "Steamed pork buns (2 pcs)",
          "手工发面，鲜肉馅多汁。",
          "Hand-raised buns with a juicy pork filling.",
          "8.00", "12", "10", "40", (), ("gluten", "soy")),
        D("BRK02", "香菇青菜包", "Mushroom and greens buns (2 pcs)",
          "香菇、青菜素馅。",
          "Shiitake and bok choy filling.",
          "7.00", "8", "5", "42", ("vegetarian",), ("gluten",)),
        D("BRK03", "皮蛋瘦肉粥", "Century egg and pork congee",
          "小火熬煮，米粒开花。",
          "Slow-cooked rice congee with century egg and lean pork.",
          "10.00", "12", "5", "36", (), ("eggs",)),
        D("BRK04", "油条", "Fried dough stick",
          "现炸油条，蓬松酥脆。",
          "Fried to order, light and crisp.",
          "4.00", "4", "12", "30", ("vegetarian",), ("gluten",)),
        D("BRK05", "茶叶蛋", "Tea egg",
          "红茶、八角卤煮。",
          "Egg simmered in black tea and star anise.",
          "3.00", "6", "5", "1", ("vegetarian",), ("eggs", "soy")),
        D("BRK06", "煎饼果子", "Jianbing crepe",
          "绿豆面煎饼、鸡蛋、薄脆、甜面酱。",
          "Mung-bean crepe with egg, crispy cracker and sweet bean sauce.",
          "12.00", "12", "14", "48", (), ("gluten", "eggs", "soy", "sesame"), ("spice", "toppings")),
        D("BRK07", "小米南瓜粥", "Millet and pumpkin porridge",
          "小米与南瓜熬煮，暖胃养人。",
          "Millet and pumpkin cooked until smooth.",
          "6.00", "3", "1", "26", ("vegetarian", "low_salt", "light_meal")),
        D("BRK08", "早餐套餐", "Breakfast set",
          "鲜肉包、现磨豆浆、茶叶蛋。",
          "Pork buns, fresh soy milk and a tea egg.",
          "14.00", "25", "19", "51", (), ("gluten", "soy", "eggs"), ("sweetness",), True),
    )),
)

CANTEEN_OPTION_GROUPS = (
    OptionGroupDef("rice", "饭量", "Rice", 1, 1, (
        ("少饭", "Less rice", "0.00", False), ("正常", "Regular", "0.00", True),
        ("加饭", "Extra rice", "0.50", False),
    )),
    OptionGroupDef("spice", "辣度", "Spice level", 1, 1, (
        ("不辣", "Not spicy", "0.00", True), ("微辣", "Mild", "0.00", False),
        ("中辣", "Medium", "0.00", False),
    )),
)

CANTEEN_CATEGORIES = (
    CategoryDef("staples", "主食", "Staples", (
        D("STP01", "米饭", "Steamed rice", "东北大米，每份二两。", "Northeast rice, 100 g.",
          "1.00", "4", "0.5", "52", ("vegetarian", "low_salt")),
        D("STP02", "馒头", "Steamed bun", "老面发酵。", "Made with an old-dough starter.",
          "0.80", "4", "1", "30", ("vegetarian",), ("gluten",)),
        D("STP03", "杂粮饭", "Mixed-grain rice", "糙米、燕麦、藜麦。", "Brown rice, oats and quinoa.",
          "1.50", "5", "1", "48", ("vegetarian", "light_meal", "low_sugar")),
    )),
    CategoryDef("meat", "荤菜", "Meat dishes", (
        D("MEAT01", "红烧鸡腿", "Braised chicken drumstick", "整只鸡腿红烧入味。",
          "A whole drumstick braised in soy.", "8.00", "24", "14", "6", (), ("soy",)),
        D("MEAT02", "糖醋里脊", "Sweet and sour pork", "外酥里嫩，酸甜可口。",
          "Crisp pork fillet in sweet and sour sauce.", "9.00", "18", "16", "24", (), ("gluten", "eggs")),
        D("MEAT03", "鱼香肉丝", "Yu-xiang shredded pork", "川味经典，微辣。",
          "Sichuan classic with garlic, vinegar and chilli.", "7.00", "16", "14", "12",
          ("spicy",), ("soy",), ("spice",)),
        D("MEAT04", "清蒸鲈鱼", "Steamed sea bass", "整条鲈鱼清蒸，少油少盐。",
          "Whole sea bass steamed with ginger; little oil or salt.", "12.00", "26", "6", "2",
          ("light_meal", "low_salt"), ("fish", "soy")),
    )),
    CategoryDef("vegetables", "素菜", "Vegetables", (
        D("VEG01", "清炒时蔬", "Stir-fried seasonal greens", "当日到货的时令蔬菜。",
          "Greens delivered this morning.", "3.00", "3", "5", "6", ("vegetarian", "light_meal", "low_salt")),
        D("VEG02", "麻婆豆腐", "Mapo tofu", "嫩豆腐配肉末与豆瓣酱。",
          "Silken tofu with minced beef and chilli bean paste.", "4.00", "10", "12", "8",
          ("spicy",), ("soy",), ("spice",)),
        D("VEG03", "西红柿炒蛋", "Tomato scrambled eggs", "家常味道。", "Home-style.",
          "4.50", "10", "10", "8", ("vegetarian",), ("eggs",)),
        D("VEG04", "地三鲜", "Potato, aubergine and pepper", "东北家常菜。",
          "A northeastern home-style stir-fry.", "4.00", "4", "14", "22", ("vegetarian",), ("soy",)),
    )),
    CategoryDef("soups", "汤羹", "Soups", (
        D("CSP01", "紫菜蛋花汤", "Seaweed and egg soup", "免费续汤。", "Free refills.",
          "1.50", "3", "2", "2", ("vegetarian",), ("eggs",)),
        D("CSP02", "冬瓜排骨汤", "Winter melon and pork rib soup", "清淡少盐。", "Light and low in salt.",
          "4.00", "8", "7", "5", ("low_salt",)),
    )),
    CategoryDef("halal", "清真窗口", "Halal counter", (
        D("HAL01", "清真牛肉盖饭", "Halal beef rice bowl", "清真窗口单独制作。",
          "Prepared separately at the halal counter.", "14.00", "26", "14", "80",
          ("halal",), ("soy",), ("rice",)),
        D("HAL02", "新疆手抓饭", "Xinjiang lamb pilaf", "羊肉、胡萝卜、葡萄干焖饭。",
          "Rice cooked with lamb, carrots and raisins.", "16.00", "24", "22", "85", ("halal",), (), ("rice",)),
        D("HAL03", "清真拉面", "Halal hand-pulled noodles", "牛骨清汤，手工拉面。",
          "Hand-pulled noodles in clear beef broth.", "12.00", "20", "8", "76",
          ("halal",), ("gluten",), ("spice",)),
    )),
)

CHAIN = BrandDef("xiangwei", "湘味小馆", "chain", CHAIN_OPTION_GROUPS, CHAIN_CATEGORIES)
CANTEEN = BrandDef("campus", "星河大学食堂", "canteen", CANTEEN_OPTION_GROUPS, CANTEEN_CATEGORIES)

# The canteen's own stores: (code, name, district, address, latitude, longitude)
CANTEEN_STORES = (
    ("CAMPUS01", "星河大学第一食堂", "西湖区", "留和路 288 号星河大学东区", "30.231542", "120.043817"),
    ("CAMPUS02", "星河大学第二食堂", "西湖区", "留和路 288 号星河大学西区", "30.229870", "120.038906"),
    ("CAMPUS03", "星河大学清真餐厅", "西湖区", "留和路 288 号星河大学北区", "30.234105", "120.041250"),
)
CANTEEN_CITY = "杭州"


@dataclass(frozen=True)
class DemoUser:
    label: str  # shown in the logins table
    phone: str
    name: str
    role: str
    brand: str | None = None  # StaffAssignment brand code
    stores: tuple[str, ...] = ()  # StaffAssignment store codes ("*" = every store of the brand)
    superuser: bool = False
    where: str = "/admin/"  # the page this login starts at

    @property
    def is_customer(self) -> bool:
        return self.role == Role.CUSTOMER


DEMO_USERS = (
    DemoUser("superuser", "13900000000", "演示超级管理员", Role.HQ_MANAGER, superuser=True),
    DemoUser("HQ manager (湘味小馆)", "13900000001", "演示总部经理", Role.HQ_MANAGER, brand=CHAIN.code),
    DemoUser("store manager (SH001, SH002)", "13900000002", "演示店长", Role.STORE_MANAGER,
             brand=CHAIN.code, stores=("SH001", "SH002")),
    DemoUser("kitchen staff (SH001)", "13900000003", "演示后厨", Role.KITCHEN_STAFF,
             brand=CHAIN.code, stores=("SH001",), where="/kitchen/SH001/"),
    DemoUser("canteen staff (星河大学食堂)", "13900000004", "演示食堂职员", Role.CANTEEN_STAFF,
             brand=CANTEEN.code, stores=("*",), where="/canteen/staff/"),
    DemoUser("customer", "13800000001", "演示顾客", Role.CUSTOMER),
)
