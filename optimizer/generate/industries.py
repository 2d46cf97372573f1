"""The industry catalogue of a generated instance: figures and GEP services.

The figures are those of ``docs/domain.md`` (the same in every generated instance); only
the site coefficients (sites.py) vary by township. The catalogue is the raw ``industries``
section of ``instance.yaml``, so that what is written is exactly what was computed from.
"""

from __future__ import annotations

from typing import Any

#: The candidate industries, in the column order of every per-industry matrix.
CANDIDATES: tuple[str, ...] = ("apple", "citrus", "agro_pv", "conservation")
BASELINE = "maize_sweet_potato"
CONSERVATION = "conservation"

_W = "Pema Dolkar, Xiao & Ouyang 2017, Acta Ecol. Sin. 37(19), doi:10.5846/stxb201607011362"
_CO2 = "China ETS 2024 average price 91.8 CNY/t CO2"
_O2 = "Ouyang team, oxygen release 727-1,000 CNY/t (low end)"


def _gep(
    category: str,
    unit: str,
    price: float,
    *,
    per_ha: float | None = None,
    per_output: float | None = None,
    source: str,
) -> dict[str, Any]:
    """One GEP service, valued per hectare or per unit of output (docs/model.md)."""
    service: dict[str, Any] = {"category": category}
    if per_ha is not None:
        service["quantity_per_ha"] = per_ha
    else:
        service["quantity_per_output_unit"] = per_output
    service.update(unit=unit, unit_price_yuan=price, source=source)
    return service


_CARBON = "sequestration of orchard/forest/grass per docs/domain.md table [est]; t CO2 = 3.67 t C"


def _vegetation_services(
    *,
    water_m3: float,
    soil_t: float,
    co2_t: float,
    o2_t: float,
    recreation_yuan: float,
    recreation_source: str,
) -> dict[str, Any]:
    """The regulating and cultural services of a tree or grass cover, per hectare.

    Orchards and restored land value the same five services at the same unit prices and
    with the same sources; only the quantities differ.
    """
    return {
        "water_conservation": _gep("regulating", "m3", 7.06, per_ha=water_m3, source=_W),
        "soil_retention": _gep("regulating", "t", 10.0, per_ha=soil_t, source=_W),
        "carbon_sequestration": _gep(
            "regulating", "t CO2", 91.8, per_ha=co2_t, source=f"{_CARBON}; {_CO2}"
        ),
        "oxygen_release": _gep("regulating", "t", 727.0, per_ha=o2_t, source=_O2),
        "recreation": _gep("cultural", "ha", recreation_yuan, per_ha=1.0, source=recreation_source),
    }


def industry_catalogue() -> dict[str, dict[str, Any]]:
    """The industries of a generated instance, with the figures of docs/domain.md.

    The order is the order written to ``instance.yaml``.
    """
    return {
        "apple": _apple(),
        "citrus": _citrus(),
        "agro_pv": _agro_pv(),
        "conservation": _conservation(),
        BASELINE: _baseline(),
    }


def _apple() -> dict[str, Any]:
    """Apple (Zhaotong): gated by soil depth, slope, desertification grade and irradiance."""
    return {
        "label": "Apple orchard (Zhaotong model)",
        "label_zh": "苹果园",
        "output_unit": "t",
        "yield_per_ha": 30.0,
        "price_yuan_per_unit": 4500.0,
        "operating_cost_yuan_per_ha": 56600.0,
        "investment_yuan_per_ha": 300000.0,
        "water_m3_per_ha": 1750.0,
        "farmer_payments_yuan_per_ha": 24000.0,
        "farmer_share_of_value_added": 0.3,
        "gep": {
            "fruit": _gep(
                "material",
                "t",
                4500.0,
                per_output=1.0,
                source="fruit sold at the farm-gate price",
            ),
            **_vegetation_services(
                water_m3=1500.0,
                soil_t=50.0,
                co2_t=4.6,
                o2_t=3.3,
                recreation_yuan=1500.0,
                recreation_source="blossom and picking tourism [est]",
            ),
        },
        "suitability": {
            "min_soil_depth_cm": 40.0,
            "max_slope_deg": 25.0,
            "max_rocky_desertification_grade": 2,
            "min_irradiance_kwh_per_m2": 1180.0,
        },
        "source": "docs/domain.md (Zhaotong apple); yields China Daily 15 Jul 2025; "
        "cost national 2011; establishment, water and rent [est]",
    }


def _citrus() -> dict[str, Any]:
    """Navel orange (Fuchuan): the apple gates but irradiance; a third of apple's investment."""
    return {
        "label": "Navel-orange orchard (Fuchuan model)",
        "label_zh": "脐橙园",
        "output_unit": "t",
        "yield_per_ha": 25.0,
        "price_yuan_per_unit": 4800.0,
        "operating_cost_yuan_per_ha": 40000.0,
        "investment_yuan_per_ha": 90000.0,
        "water_m3_per_ha": 1100.0,
        "farmer_payments_yuan_per_ha": 20000.0,
        "farmer_share_of_value_added": 0.3,
        "gep": {
            "fruit": _gep(
                "material",
                "t",
                4800.0,
                per_output=1.0,
                source="fruit sold at the farm-gate price",
            ),
            **_vegetation_services(
                water_m3=1800.0,
                soil_t=60.0,
                co2_t=3.7,
                o2_t=2.7,
                recreation_yuan=1200.0,
                recreation_source="orchard tourism [est]",
            ),
        },
        "suitability": {
            "min_soil_depth_cm": 40.0,
            "max_slope_deg": 25.0,
            "max_rocky_desertification_grade": 2,
        },
        "source": "docs/domain.md (Fuchuan navel orange); Chenzhou cost study 2023; "
        "establishment, water and rent [est]",
    }


def _agro_pv() -> dict[str, Any]:
    """Agro-PV (Guanling/Gangwu): output follows irradiance; the only user of grid capacity."""
    return {
        "label": "Agro-photovoltaics (Gangwu model)",
        "label_zh": "农光互补光伏",
        "output_unit": "MWh",
        "pv_capacity_mw_per_ha": 0.5,
        "pv_performance_ratio": 0.85,
        "price_yuan_per_unit": 310.0,
        "other_revenue_yuan_per_ha": 6900.0,
        "operating_cost_yuan_per_ha": 51000.0,
        "investment_yuan_per_ha": 1750000.0,
        "water_m3_per_ha": 20.0,
        "farmer_payments_yuan_per_ha": 18000.0,
        "farmer_share_of_value_added": 0.08,
        "gep": {
            "electricity": _gep(
                "material",
                "MWh",
                310.0,
                per_output=1.0,
                source="ecological energy at the realised tariff",
            ),
            "emission_offset": _gep(
                "regulating",
                "t CO2",
                91.8,
                per_output=0.5703,
                source=f"grid factor 0.5703 t CO2/MWh (MEE 2022); {_CO2}",
            ),
            "water_conservation": _gep(
                "regulating", "m3", 7.06, per_ha=600.0, source=f"under-panel grass [est]; {_W}"
            ),
            "soil_retention": _gep("regulating", "t", 10.0, per_ha=40.0, source=_W),
            "landscape": _gep("cultural", "ha", 200.0, per_ha=1.0, source="[est]"),
        },
        "suitability": {"max_slope_deg": 30.0, "min_irradiance_kwh_per_m2": 1150.0},
        "source": "docs/domain.md (Guanling/Gangwu agro-PV): 0.5 MWp/ha (Weining 432 MW on "
        "765.8 ha), 0.31 CNY/kWh realised, 3.5 CNY/W mountain agro-PV, O&M 60 CNY/kW, "
        "rent 12,000 + wages 6,000 CNY/ha, under-panel crops 6,900 CNY/ha [est]",
    }


def _conservation() -> dict[str, Any]:
    """Restoration: no suitability gate, so every township keeps at least this choice."""
    return {
        "label": "Forest-grass restoration (closing hillsides, returning farmland to forest)",
        "label_zh": "封山育林、退耕还林还草",
        "counts_as_conservation": True,
        "output_unit": "t",
        "other_revenue_yuan_per_ha": 5000.0,
        "operating_cost_yuan_per_ha": 5450.0,
        "investment_yuan_per_ha": 12000.0,
        "water_m3_per_ha": 0.0,
        "farmer_payments_yuan_per_ha": 5000.0,
        "farmer_share_of_value_added": 0.0,
        "gep": {
            **_vegetation_services(
                water_m3=3000.0,
                soil_t=120.0,
                co2_t=5.5,
                o2_t=4.0,
                recreation_yuan=800.0,
                recreation_source="[est]",
            ),
        },
        "source": "docs/domain.md (conservation): Grain-for-Green compensation ~4,500 + "
        "public-welfare forest subsidy and ranger wages ~500 CNY/ha paid to households "
        "[est]; protection 450 CNY/ha; establishment mix of closing hillsides and "
        "afforestation [est]",
    }


def _baseline() -> dict[str, Any]:
    """The non-candidate baseline land use, whose income sets each township's income floor."""
    return {
        "label": "Maize and sweet potato on sloping land (baseline)",
        "label_zh": "坡耕地玉米、红薯",
        "candidate": False,
        "output_unit": "t",
        "yield_per_ha": 4.5,
        "price_yuan_per_unit": 2400.0,
        "operating_cost_yuan_per_ha": 6000.0,
        "farmer_payments_yuan_per_ha": 0.0,
        "farmer_share_of_value_added": 1.0,
        "gep": {
            "grain": _gep(
                "material", "t", 2400.0, per_output=1.0, source="grain at farm-gate price"
            ),
            "water_conservation": _gep("regulating", "m3", 7.06, per_ha=600.0, source=_W),
            "soil_retention": _gep("regulating", "t", 10.0, per_ha=25.0, source=_W),
            "recreation": _gep("cultural", "ha", 100.0, per_ha=1.0, source="[est]"),
        },
        "source": "household farming, own labour unpaid: yield by desertification grade, "
        "price and cost [est]",
    }
